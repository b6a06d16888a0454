"""The index directory: what each file in it is, and its manifest. The only code that builds those paths.

::

    <data dir>/
      manifest.json              model, dimension, format version, generation (see Manifest)
      kb.sqlite3                 documents, passages with their vectors, keyword stems (the record)
      write.lock                 held by the one writer (flock; the kernel releases it if the writer dies)
      vectors-<version>.faiss    FAISS snapshot of the database at <version> (rebuilt from the database at will)
      keywords-<version>/        keyword postings snapshot at <version> (likewise)
      originals/<sha256>.<ext>   a copy of every indexed file, served back to readers
      last-index-report.json     what the last `kb index` did to each file
      audit.log                  one JSON line per add, update and remove, with who asked and the outcome (``audit``)

Evaluation and benchmark runs write beside the directory, never inside it (``IndexLayout.evaluation_dir``), so an
index holds only what serving needs.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from .errors import IndexDamaged, IndexNotBuilt, IndexOutdated, IndexReplaced, InvalidSetting

__all__ = ["FORMAT_VERSION", "Manifest", "IndexLayout", "staging_dir", "swap_in", "temporary_path"]

#: Bumped whenever the files above change in a way an older reader cannot follow.
FORMAT_VERSION = 5
_VECTORS = re.compile(r"^vectors-(\d+)\.faiss$")
_KEYWORDS = re.compile(r"^keywords-(\d+)$")


@dataclass(frozen=True)
class Manifest:
    """What the vectors in an index directory are: model, dimension, format version.

    ``generation`` is new each time the directory is built from nothing (``kb index --rebuild``), so that a
    process holding it open can tell a rebuilt index from the one it opened.
    """

    model: str
    dimension: int
    format_version: int = FORMAT_VERSION
    generation: str = ""


@dataclass(frozen=True)
class IndexLayout:
    """The paths of one index directory."""

    data_dir: Path

    @property
    def manifest(self) -> Path:
        return self.data_dir / "manifest.json"

    @property
    def database(self) -> Path:
        return self.data_dir / "kb.sqlite3"

    @property
    def write_lock(self) -> Path:
        return self.data_dir / "write.lock"

    @property
    def index_report(self) -> Path:
        return self.data_dir / "last-index-report.json"

    @property
    def audit_log(self) -> Path:
        return self.data_dir / "audit.log"

    @property
    def originals_dir(self) -> Path:
        return self.data_dir / "originals"

    @contextmanager
    def write_locked(self) -> Iterator[None]:
        """Hold the directory's write lock (``flock`` on ``write.lock``): no writer changes the index meanwhile.

        Every writer takes it (``Store.writing``), so holding it gives a point where the database, its
        snapshots and the kept originals agree. The kernel releases it if the holder dies.

        Raises:
            IndexReplaced: while this waited, a rebuild or restore swapped another index into the directory
                (the lock held is the retired index's): nothing may be written to it.
        """
        with open(self.write_lock, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            held, current = os.fstat(lock.fileno()), _stat(self.write_lock)
            if current is None or (held.st_dev, held.st_ino) != (current.st_dev, current.st_ino):
                raise IndexReplaced(f"the index in {self.data_dir} was replaced (kb index --rebuild or kb restore) while "
                                    "this change waited for it; nothing was changed: send it again")
            yield

    @property
    def evaluation_dir(self) -> Path:
        """Where evaluation and benchmark runs write: ``<data dir>.eval``, a sibling folder (``var/kb.eval``).

        It holds BEIR indexes, runs and metrics and the builds of ``kb bench --compare``; beside the index
        rather than in it, so that copying, serving or deleting one leaves the other as it is.

        Raises:
            InvalidSetting: the index directory is the file-system root, which has no folder beside it.
        """
        path = self.data_dir
        if path.name in ("", ".."):  # "." or "..": name the folder itself
            path = path.resolve()
        if not path.name:
            raise InvalidSetting(f"the index directory {self.data_dir} is the file-system root; "
                                 "evaluation output has no place beside it: choose another --data-dir")
        return path.with_name(f"{path.name}.eval")

    def original(self, sha256: str, suffix: str) -> str:
        """The kept copy of a file with this content, relative to the directory (as documents store it)."""
        return (Path("originals") / f"{sha256}{suffix.lower()}").as_posix()

    def resolve(self, relative: str) -> Path:
        """A path that documents store relative to the directory (``Document.original``), made absolute."""
        return self.data_dir / relative

    def vectors_snapshot(self, version: int) -> Path:
        return self.data_dir / f"vectors-{version}.faiss"

    def keywords_snapshot(self, version: int) -> Path:
        return self.data_dir / f"keywords-{version}"

    def vectors_snapshots(self) -> dict[int, Path]:
        """The FAISS snapshots in the directory, by database version."""
        return self._snapshots(_VECTORS)

    def keywords_snapshots(self) -> dict[int, Path]:
        """The keyword snapshots in the directory, by database version."""
        return self._snapshots(_KEYWORDS)

    def _snapshots(self, pattern: re.Pattern) -> dict[int, Path]:
        if not self.data_dir.is_dir():
            return {}
        found = {}
        for path in self.data_dir.iterdir():
            match = pattern.match(path.name)
            if match:
                found[int(match.group(1))] = path
        return found

    def read_manifest(self) -> Manifest:
        """The directory's manifest, checked.

        Raises:
            IndexNotBuilt: the directory has no index yet.
            IndexDamaged: the manifest cannot be read.
            IndexOutdated: the index is of another format version.
        """
        if not self.manifest.exists():
            raise IndexNotBuilt(f"no index in {self.data_dir} yet; build it with `kb index` (or `make run`)")
        try:
            manifest = Manifest(**json.loads(self.manifest.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as error:
            raise IndexDamaged(f"{self.manifest} is damaged ({error}); rebuild the index with `kb index --rebuild`") from error
        if manifest.format_version != FORMAT_VERSION:
            raise IndexOutdated(
                f"{self.data_dir} holds an index of format {manifest.format_version}, this version reads {FORMAT_VERSION}; "
                f"rebuild it with `kb index --rebuild`"
            )
        return manifest

    def write_manifest(self, manifest: Manifest) -> Manifest:
        """Write the manifest atomically, with a new generation id if it has none; return what was written."""
        if not manifest.generation:
            manifest = Manifest(manifest.model, manifest.dimension, manifest.format_version, uuid.uuid4().hex)
        temporary = temporary_path(self.manifest)
        temporary.write_text(json.dumps(asdict(manifest), indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, self.manifest)
        return manifest


def staging_dir(data_dir: Path) -> Path:
    """Where ``kb index --rebuild`` builds the new index, beside the one it replaces (hidden, named for this process)."""
    return data_dir.with_name(f".{data_dir.name}.rebuild-{os.getpid()}")


def swap_in(built: Path, data_dir: Path) -> None:
    """Put the directory ``built`` in the place of ``data_dir`` and delete what was there.

    Linux exchanges the two names in one step (``renameat2`` with ``RENAME_EXCHANGE``), so a process
    opening ``data_dir`` meanwhile finds the old index or the new one, never none. Elsewhere, or on a
    file system without it, two renames leave a moment without an index.
    """
    if not data_dir.exists():
        os.replace(built, data_dir)
        return
    if not _exchange(built, data_dir):
        retired = data_dir.with_name(f".{data_dir.name}.old-{os.getpid()}")
        os.replace(data_dir, retired)
        os.replace(built, data_dir)
        built = retired
    shutil.rmtree(built, ignore_errors=True)  # after the exchange, ``built`` holds the old index


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths' names atomically (Linux renameat2); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    return done == 0


def temporary_path(target: Path) -> Path:
    """A hidden name beside ``target`` for writing it whole before ``os.replace`` puts it in place."""
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def _stat(path: Path) -> os.stat_result | None:
    """``os.stat(path)``, or None when nothing is there (a swap in progress)."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
