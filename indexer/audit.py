"""The audit log: one JSON line per add, update and remove of a document, in ``<data dir>/audit.log``.

Each line says when (UTC), who asked (the web client's address, or ``cli:<user>``), what (``add``,
``update``, ``remove``, ``index`` for a file a ``kb index`` run indexed), which document and file, the
file's SHA-256 for adds, and the result: ``ok`` or the error's code. Failed writes are logged too.

A line is written with one ``write`` on a file opened with ``O_APPEND``: the kernel puts each write
at the end of the file whole, so lines of processes writing at the same moment never interleave.
The file is synced after each line (writes are rare, each takes seconds). ``kb index --rebuild``
and ``kb restore`` carry the log over to the directory they put in place; a backup holds a copy.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

__all__ = ["AuditEntry", "ACTIONS", "append", "append_all", "record", "read_recent", "carry_over", "local_client", "result_of"]

log = logging.getLogger(__name__)

#: What an entry can record.
ACTIONS = ("add", "update", "remove", "index")
# read_recent reads the file backwards in blocks of this size, so a long log costs no more than its tail.
_BLOCK = 64 * 1024


@dataclass(frozen=True)
class AuditEntry:
    """One change to the index, or one refused attempt at it.

    ``document_id`` is None when no document was reached (a refused upload); ``sha256`` is the file's
    for adds, "" otherwise; ``result`` is ``ok`` or the error code (``duplicate_document``, ...).
    """

    time: str
    client: str
    action: str
    document_id: int | None
    filename: str
    sha256: str
    result: str

    @classmethod
    def now(cls, client: str, action: str, document_id: int | None = None, filename: str = "", sha256: str = "",
            result: str = "ok") -> AuditEntry:
        """An entry stamped with the current UTC time (ISO 8601, to the millisecond)."""
        stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return cls(stamp, client, action, document_id, filename, sha256, result)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: dict) -> AuditEntry:
        """An entry read back from its JSON line.

        Raises:
            TypeError, ValueError: the object is not an entry.
        """
        document_id = value.get("document_id")
        return cls(str(value["time"]), str(value["client"]), str(value["action"]),
                   None if document_id is None else int(document_id), str(value.get("filename", "")),
                   str(value.get("sha256", "")), str(value["result"]))


def append(path: Path, entry: AuditEntry) -> None:
    """Append ``entry`` to the log at ``path`` as one line (creating the file, and its folder, if needed).

    Raises:
        OSError: the log cannot be written (the caller decides whether that stops it).
    """
    append_all(path, [entry])


def append_all(path: Path, entries: Sequence[AuditEntry]) -> None:
    """Append entries in one write and one sync (an index run's files), as ``append`` does one.

    Raises:
        OSError: the log cannot be written.
    """
    if not entries:
        return
    line = "".join(json.dumps(entry.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n" for entry in entries).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        written = os.write(descriptor, line)
        if written != len(line):  # only on a full disk: the tail would start a line of its own, so say so
            raise OSError(f"only {written} of {len(line)} bytes of audit entries were written to {path}")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def record(path: Path, *entries: AuditEntry) -> None:
    """``append_all``, logging instead of raising when the log cannot be written.

    The change it records is already committed (or already failed with its own error): a full disk
    under the log must not turn a successful upload into an error, nor hide why one failed.
    """
    try:
        append_all(path, entries)
    except OSError:
        log.exception("could not write to the audit log %s: %s", path, entries)


def read_recent(path: Path, count: int) -> list[AuditEntry]:
    """The last ``count`` entries of the log at ``path``, newest first ([] when there is no log yet).

    Lines that are not entries (a line cut short by a full disk) are skipped.
    """
    if count <= 0:
        return []
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return []
    with handle:
        lines = _last_lines(handle, count)
    entries = []
    for line in reversed(lines):
        try:
            entries.append(AuditEntry.from_dict(json.loads(line)))
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    return entries[:count]


def _last_lines(handle, count: int) -> list[bytes]:
    """The last ``count`` complete lines of a file (and a few more, for the damaged ones), oldest first."""
    end = handle.seek(0, os.SEEK_END)
    data, position = b"", end
    while position > 0 and data.count(b"\n") <= count + 8:
        step = min(_BLOCK, position)
        position -= step
        handle.seek(position)
        data = handle.read(step) + data
    lines = [line for line in data.split(b"\n") if line.strip()]
    if position > 0:
        lines = lines[1:]  # the first piece may be the end of a longer line
    return lines[-(count + 8):]


def carry_over(log_path: Path, into: Path) -> None:
    """Put the log at ``log_path`` into the folder ``into`` (a directory about to replace its own), if there is one.

    A hard link where it can be (the same file: nothing appended meanwhile is lost), a copy elsewhere.
    """
    if not log_path.exists():
        return
    target = into / log_path.name
    temporary = into / f".{log_path.name}.{os.getpid()}.tmp"
    temporary.unlink(missing_ok=True)
    try:
        os.link(log_path, temporary)
    except OSError:
        shutil.copy2(log_path, temporary)
    os.replace(temporary, target)


def local_client(prefix: str = "local") -> str:
    """Who asked, for a change made on this machine: ``cli:<user>`` for the ``kb`` command, ``local:<user>`` otherwise."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container without /etc/passwd entry)
        user = str(os.getuid())
    return f"{prefix}:{user}"


def result_of(error: BaseException) -> str:
    """The result an audit entry records for a failure: the error's code, or ``error`` for one without."""
    return str(getattr(error, "code", "") or "error")
