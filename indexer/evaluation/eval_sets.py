"""Read evaluation datasets: questions with graded judgments, and the records of a BEIR corpus.

Two kinds of dataset:

- the corpus questions (``corpus/eval/questions.jsonl``), judged by *location*
  (file and page, slide or section) so the judgments survive re-chunking: a
  ranked list of passages becomes a ranked list of locations, each at its best
  passage's rank;
- any BEIR-layout folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``),
  judged by document id, one record a document.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import DatasetError
from ..records import Location, TextRecord

__all__ = ["LABELS", "EvalSet", "location_key", "load_questions", "load_beir", "beir_records"]


#: What a corpus question may say about itself, for scores broken down by group (``metrics.breakdown``):
#: its kind (``question``, ``keywords``, ``cross-document``) and its language (ISO 639-1).
LABELS = ("kind", "language")


@dataclass(frozen=True)
class EvalSet:
    """Questions and graded judgments: ``qrels[query_id][key] = grade``; ``labels[query_id][label] = value``
    for the ``LABELS`` a question gives (none for BEIR)."""

    name: str
    split: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    labels: dict[str, dict[str, str]] = field(default_factory=dict)


def location_key(filename: str, location: Location) -> str:
    """The judgment key of a passage's location, e.g. ``notes/x.pdf#page=3``."""
    if location.slide is not None:
        return f"{filename}#slide={location.slide}"
    if location.page is not None:
        return f"{filename}#page={location.page}"
    if location.section:
        return f"{filename}#section={location.section}"
    return filename


def load_questions(path: Path, split: str) -> EvalSet:
    """Read ``questions.jsonl`` (``{"id", "question", "split", "relevant": [...]}`` a line, optionally ``"kind"``
    and ``"language"``).

    Args:
        path: the questions file.
        split: ``dev``, ``test`` or ``all``.

    Returns:
        The questions of ``split``, judged by location key, with the ``LABELS`` each gives.

    Raises:
        DatasetError: the file is missing, a line is malformed, or no question is in ``split``.
    """
    queries, qrels, labels = {}, {}, {}
    for number, entry in enumerate(_json_lines(path), start=1):
        try:
            if split not in ("all", entry["split"]):
                continue
            judged = {_judgment_key(item): int(item["grade"]) for item in entry["relevant"]}
            query_id = str(entry["id"])
            queries[query_id] = entry["question"]
            qrels[query_id] = judged
            labels[query_id] = {label: str(entry[label]) for label in LABELS if entry.get(label)}
        except (KeyError, TypeError, ValueError) as error:
            raise DatasetError(f"{path}, line {number}: {error!r} missing or malformed; see corpus/src/FORMAT.md") from error
    if not queries:
        raise DatasetError(f"{path} has no questions in split {split!r}")
    return EvalSet(name="corpus", split=split, queries=queries, qrels=qrels, labels=labels)


def _judgment_key(item: dict) -> str:
    location = Location(page=item.get("page"), slide=item.get("slide"), section=item.get("section"))
    return location_key(item["file"], location)


def _json_lines(path: Path) -> Iterator[dict]:
    if not path.is_file():
        raise DatasetError(f"{path} not found")
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as error:
                    raise DatasetError(f"{path}, line {number}: not JSON ({error})") from error


def load_beir(folder: Path, split: str) -> EvalSet:
    """Read a BEIR folder's queries and ``qrels/<split>.tsv`` (only judged queries are kept).

    Args:
        folder: the BEIR folder.
        split: names the qrels file.

    Returns:
        The judged queries, judged by record id; the set is named after the folder.

    Raises:
        DatasetError: a file is missing or malformed.
    """
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise DatasetError(f"{qrels_path} not found; a BEIR folder has corpus.jsonl, queries.jsonl and qrels/<split>.tsv")
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            try:
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
            except (KeyError, ValueError, TypeError) as error:
                raise DatasetError(f"{qrels_path}: bad row {row} ({error!r})") from error
    queries = {str(entry["_id"]): entry["text"] for entry in _json_lines(folder / "queries.jsonl") if str(entry["_id"]) in qrels}
    return EvalSet(name=folder.name, split=split, queries=queries, qrels={q: qrels[q] for q in queries})


def beir_records(folder: Path) -> list[TextRecord]:
    """The records of a BEIR ``corpus.jsonl``, in file order.

    Raises:
        DatasetError: the file is missing or malformed, or a record has no ``_id``.
    """
    try:
        return [TextRecord(key=str(entry["_id"]), title=entry.get("title") or "", text=entry.get("text") or "")
                for entry in _json_lines(folder / "corpus.jsonl")]
    except KeyError as error:
        raise DatasetError(f"{folder / 'corpus.jsonl'}: a record has no {error}") from error
