"""Which files to index: files and folders walked, ``.kbignore`` honoured, catalogue fields attached."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pathspec

from .catalog import read_catalog
from .extract import SUPPORTED_EXTENSIONS

__all__ = ["SourceFile", "find_files", "file_sha256", "IGNORE_NAME"]

IGNORE_NAME = ".kbignore"


@dataclass(frozen=True)
class SourceFile:
    """A file to index, with the name it is shown under and its catalogue fields.

    ``key`` identifies the document across updates: the resolved path for files on disk
    (the default), ``upload:NAME`` for uploads.
    """

    path: Path
    name: str
    catalog: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    #: The content's SHA-256 when the caller already has it (an upload is named by it), else "" (hashed when read).
    sha256: str = ""

    @property
    def identity(self) -> str:
        return self.key or str(self.path.resolve())

    @property
    def is_upload(self) -> bool:
        """An upload is a new document each time: it never updates one, and content already indexed is a duplicate."""
        return self.key.startswith("upload:")


def find_files(paths: list[Path]) -> list[SourceFile]:
    """Expand files and folders into the files to index.

    Folders are walked recursively for supported endings, leaving out hidden
    entries and what a ``.kbignore`` (gitignore syntax) in the folder names.
    Files named directly are taken whatever their ending.

    Args:
        paths: files and folders.

    Returns:
        The files, with their catalogue fields from the folder's ``catalog.yaml``.
    """
    found: list[SourceFile] = []
    for path in paths:
        if path.is_dir():
            found.extend(_walk(path))
        else:
            catalog = read_catalog(path.parent) if path.parent.exists() else {}
            found.append(SourceFile(path=path, name=path.name, catalog=catalog.get(path.name, {})))
    return found


def _walk(folder: Path) -> Iterator[SourceFile]:
    catalog = read_catalog(folder)
    ignore_file = folder / IGNORE_NAME
    ignored = pathspec.GitIgnoreSpec.from_lines(ignore_file.read_text().splitlines() if ignore_file.exists() else [])
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        for name in sorted(files):
            path = Path(root, name)
            relative = path.relative_to(folder).as_posix()
            if name.startswith(".") or path.suffix.lower() not in SUPPORTED_EXTENSIONS or ignored.match_file(relative):
                continue
            yield SourceFile(path=path, name=relative, catalog=catalog.get(relative, {}))


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
