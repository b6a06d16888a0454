"""``--during-add``: a loop beside the server that adds files with ``kb add`` and removes them with ``kb remove``."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .server import PROJECT, get

KB = [sys.executable, "-m", "indexer"]  # the `kb` command of this interpreter's environment


@dataclass
class WriterLog:
    added: int = 0
    removed: int = 0
    failures: list[str] = field(default_factory=list)


def indexed_ids_refusing(port: int, files: list[Path]) -> set[int]:
    """The ids of the indexed documents, after refusing files whose content is one of them.

    Adding such a file and removing it again would take the indexed document (or its kept original) away.

    Raises:
        ValueError: naming the file and its document.
    """
    status, body = get(port, "/api/documents")
    if status != 200:
        raise RuntimeError(f"GET /api/documents answered {status}")
    documents = json.loads(body)["documents"]
    by_content = {document["sha256"]: document for document in documents}
    for path in files:
        twin = by_content.get(hashlib.sha256(path.read_bytes()).hexdigest())
        if twin is not None:
            raise ValueError(f"{path} is indexed already (document {twin['id']}, {twin['filename']}); "
                             "--during-add takes files that are not in the index")
    return {document["id"] for document in documents}


def add_and_remove(files: list[Path], data_dir: Path, known_ids: set[int], stop: threading.Event, log: WriterLog) -> None:
    """Until ``stop`` is set: ``kb add`` each file, then ``kb remove`` the document it became.

    The commands run in their own session, so that Ctrl-C stops the clients but lets a write finish.
    """
    while not stop.is_set():
        for path in files:
            if stop.is_set():
                return
            added = subprocess.run([*KB, "add", str(path), "--data-dir", str(data_dir)], capture_output=True, text=True,
                                   cwd=PROJECT, start_new_session=True)
            if added.returncode != 0:
                log.failures.append(f"kb add {path}: {_last_line(added.stderr)}")
                stop.wait(1.0)  # a file that cannot be added fails fast; do not spin
                continue
            document_id = int(added.stdout.split()[0])
            if document_id in known_ids:  # the file updated a document of the index: leave it there
                log.failures.append(f"kb add {path} updated document {document_id} of the index; not removing it")
                stop.set()
                return
            log.added += 1
            removed = subprocess.run([*KB, "remove", str(document_id), "--data-dir", str(data_dir)], capture_output=True,
                                     text=True, cwd=PROJECT, start_new_session=True)
            if removed.returncode != 0:
                log.failures.append(f"kb remove {document_id}: {_last_line(removed.stderr)}")
                stop.set()  # adding again would leave one more copy behind
                return
            log.removed += 1


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(no message)"
