"""The reading clients of the load test: the questions they ask, what each one saw, the percentiles."""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .server import HOST


def load_questions(source: str | Path) -> list[str]:
    """The questions of a file or a dataset folder.

    Args:
        source: a folder with ``eval/questions.jsonl`` (field ``question``, e.g. ``corpus``) or a BEIR folder
            (``queries.jsonl``, field ``text``); a ``.jsonl`` file with either field; or a text file, one question a line.

    Raises:
        ValueError: no questions found there.
    """
    path = Path(source)
    if path.is_dir():
        candidates = [path / "eval" / "questions.jsonl", path / "queries.jsonl"]
        found = next((candidate for candidate in candidates if candidate.is_file()), None)
        if found is None:
            raise ValueError(f"{path} has neither eval/questions.jsonl nor queries.jsonl")
        path = found
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if path.suffix == ".jsonl":
        records = [json.loads(line) for line in lines]
        questions = [str(record.get("question") or record.get("text") or "").strip() for record in records]
    else:
        questions = lines
    questions = [question for question in questions if question]
    if not questions:
        raise ValueError(f"no questions in {path}")
    return questions


def client_questions(questions: list[str], extra: list[str], number: int, clients: int) -> list[str]:
    """What client ``number`` of ``clients`` asks, in turn: its share of ``questions``, each followed by one of
    ``extra`` (the words of the documents being written; every client asks them all, from its own starting point)."""
    own = questions[number::clients] or questions
    if not extra:
        return own
    length = max(len(own), len(extra))
    rotated = extra[number % len(extra):] + extra[:number % len(extra)]
    return [item for index in range(length) for item in (own[index % len(own)], rotated[index % len(rotated)])]


@dataclass(frozen=True)
class Sighting:
    """One answer that named watched documents: when its question was sent (``time.monotonic``), and their ids."""

    asked_at: float
    document_ids: tuple[int, ...]


@dataclass
class ClientLog:
    """What one client saw: the latency of each answered query, its errors by kind, and the watched documents."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    sightings: list[Sighting] = field(default_factory=list)


def documents_named(body: bytes, above: int) -> tuple[int, ...]:
    """The ids above ``above`` of the documents a search answer names (results and their other formats)."""
    ids = set()
    for result in json.loads(body)["results"]:
        ids.add(result["document"]["id"])
        ids.update(twin["id"] for twin in result.get("also_as", ()))
    return tuple(sorted(identifier for identifier in ids if identifier > above))


def run_client(port: int, questions: list[str], k: int, stop: threading.Event, timeout: float,
               watch_above: int | None = None) -> ClientLog:
    """Ask ``questions`` in turn on one connection until ``stop`` is set.

    Args:
        watch_above: when given, every answer is read for the documents whose id is above it (the ones the
            test adds), and each answer naming one is logged as a ``Sighting``.
    """
    log = ClientLog()
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    number = 0
    try:
        while not stop.is_set():
            question = questions[number % len(questions)]
            number += 1
            target = "/api/search?" + urllib.parse.urlencode({"q": question, "k": k})
            asked_at, started = time.monotonic(), time.perf_counter()
            try:
                connection.request("GET", target)
                response = connection.getresponse()
                body = response.read()  # the whole answer, or the connection cannot carry the next request
            except (OSError, http.client.HTTPException) as error:
                log.errors[type(error).__name__] += 1
                connection.close()  # the next request opens a new connection
                continue
            if response.status != 200:
                log.errors[f"HTTP {response.status}"] += 1
                continue
            log.latencies.append(time.perf_counter() - started)
            if watch_above is not None:
                named = documents_named(body, watch_above)
                if named:
                    log.sightings.append(Sighting(asked_at, named))
    finally:
        connection.close()
    return log


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = math.ceil(fraction * len(sorted_values) - 1e-9)
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]
