"""``--during-api-writes N_ADD N_REMOVE``: documents added and removed over the HTTP API while the clients read,
and the check that no removed document is answered later than ``GRACE`` seconds after its DELETE answered.

The documents are small generated Markdown notes, each with its own made-up word; the clients ask for these
words between their questions, so the documents being removed are the ones they keep finding.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .clients import Sighting
from .server import HOST

#: Seconds after its DELETE answered by which no worker may answer a removed document any more.
GRACE = 1.0
_SYLLABLES = [consonant + vowel for consonant in "bdfgklmnprstvz" for vowel in "aeiou"]


@dataclass(frozen=True)
class Note:
    """A generated document: its file, and the made-up word only it holds."""

    path: Path
    word: str


@dataclass(frozen=True)
class Write:
    """One write of the schedule: "add" or "remove" note number ``note``."""

    kind: str
    note: int


@dataclass(frozen=True)
class Removal:
    """A document the writer removed, and when its DELETE answered (``time.monotonic``)."""

    document_id: int
    answered_at: float


@dataclass(frozen=True)
class StaleHit:
    """An answer naming a removed document, to a question sent ``late_s`` seconds after its DELETE answered."""

    document_id: int
    late_s: float


@dataclass
class ApiWriteLog:
    """What the writer did: the ids it added (by note), its removals, what failed, what it cleaned up."""

    added: dict[int, int] = field(default_factory=dict)
    removals: list[Removal] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cleaned_up: int = 0


def make_notes(folder: Path, count: int, seed: int = 0) -> list[Note]:
    """Write ``count`` Markdown notes of made-up words (unlike each other: none is a near duplicate of another)."""
    rng, used, notes = random.Random(seed), set(), []

    def word() -> str:
        while True:
            made = "".join(rng.choice(_SYLLABLES) for _ in range(4))
            if made not in used:
                used.add(made)
                return made

    for number in range(count):
        own, body = word(), " ".join(word() for _ in range(60))
        path = folder / f"load-note-{number:03}.md"
        path.write_text(f"# Load note {number}: {own}\n\n{own} {body}. {own}.\n", encoding="utf-8")
        notes.append(Note(path, own))
    return notes


def write_schedule(adds: int, removes: int) -> list[Write]:
    """The writes in order: every note added, and note j removed after add number (j + 1) × adds ÷ removes."""
    schedule: list[Write] = []
    removed = 0
    for number in range(adds):
        schedule.append(Write("add", number))
        while removed < removes and (number + 1) * removes // adds > removed:
            schedule.append(Write("remove", removed))
            removed += 1
    return schedule


def _request(port: int, method: str, target: str, token: str, body: bytes = b"", content_type: str = "",
             timeout: float = 60.0) -> tuple[int, bytes]:
    """One request with the admin token on a new connection: status and body."""
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, target, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def upload(port: int, token: str, path: Path) -> int:
    """``POST /api/documents`` with the file: the new document's id.

    Raises:
        RuntimeError: any answer but 201, with its message.
    """
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            f"Content-Type: text/markdown\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    status, answer = _request(port, "POST", "/api/documents", token, body, f"multipart/form-data; boundary={boundary}")
    if status != 201:
        raise RuntimeError(f"POST /api/documents {path.name}: {status} {answer[:200]!r}")
    return json.loads(answer)["document"]["id"]


def delete(port: int, token: str, document_id: int) -> None:
    """``DELETE /api/documents/<id>``.

    Raises:
        RuntimeError: any answer but 204.
    """
    status, answer = _request(port, "DELETE", f"/api/documents/{document_id}", token)
    if status != 204:
        raise RuntimeError(f"DELETE /api/documents/{document_id}: {status} {answer[:200]!r}")


def write_over_api(port: int, token: str, notes: list[Note], removes: int, window: float, stop: threading.Event,
                   log: ApiWriteLog) -> None:
    """Add every note and remove the first ``removes`` of them, the writes spread evenly over ``window`` seconds
    (or back to back when they take longer); stops early when ``stop`` is set."""
    schedule = write_schedule(len(notes), removes)
    started = time.monotonic()
    for slot, write in enumerate(schedule):
        if stop.wait(max(0.0, started + slot * window / len(schedule) - time.monotonic())):
            return
        try:
            if write.kind == "add":
                log.added[write.note] = upload(port, token, notes[write.note].path)
            elif write.note in log.added:
                delete(port, token, log.added[write.note])
                log.removals.append(Removal(log.added[write.note], time.monotonic()))
        except (OSError, http.client.HTTPException, RuntimeError) as error:
            log.failures.append(f"{write.kind} {notes[write.note].path.name}: {error}")


def clean_up(port: int, token: str, log: ApiWriteLog) -> None:
    """Remove every document the writer added and did not remove, so that the index is left as it was."""
    removed = {removal.document_id for removal in log.removals}
    for document_id in [identifier for identifier in log.added.values() if identifier not in removed]:
        try:
            delete(port, token, document_id)
            log.cleaned_up += 1
        except (OSError, http.client.HTTPException, RuntimeError) as error:
            log.failures.append(f"clean-up: {error}")


def stale_hits(sightings: list[Sighting], removals: list[Removal], grace: float = GRACE) -> list[StaleHit]:
    """The answers naming a removed document to a question sent more than ``grace`` s after its DELETE answered."""
    removed_at = {removal.document_id: removal.answered_at for removal in removals}
    return [StaleHit(document_id, round(sighting.asked_at - removed_at[document_id], 3))
            for sighting in sightings for document_id in sighting.document_ids
            if document_id in removed_at and sighting.asked_at > removed_at[document_id] + grace]


def seen_before_removal(sightings: list[Sighting], removals: list[Removal]) -> int:
    """How many of the removed documents some client was answered before their DELETE answered (the check above
    proves something only for those)."""
    removed_at = {removal.document_id: removal.answered_at for removal in removals}
    return len({document_id for sighting in sightings for document_id in sighting.document_ids
                if document_id in removed_at and sighting.asked_at < removed_at[document_id]})


def api_write_report(log: ApiWriteLog, sightings: list[Sighting]) -> dict:
    """The report's ``api_writes`` entry."""
    stale = stale_hits(sightings, log.removals)
    return {"added": len(log.added), "removed": len(log.removals), "cleaned_up": log.cleaned_up,
            "failures": log.failures, "grace_s": GRACE, "removed_seen_before": seen_before_removal(sightings, log.removals),
            "stale_hits": len(stale), "stale_examples": [vars(hit) for hit in stale[:10]]}
