"""Measure answer quality: nDCG@10, Recall@10, Recall@100 and MRR@10 with ranx.

Two kinds of dataset:

- the corpus questions (``corpus/eval/questions.jsonl``), judged by *location*
  (file and page, slide or section) so the judgments survive re-chunking: a
  ranked list of passages becomes a ranked list of locations, each at its best
  passage's rank;
- any BEIR-layout folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``),
  judged by document id, indexed once into its own directory, one passage per record.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..chunk import ChunkSettings
from ..errors import DatasetError, IndexNotBuilt, IndexOutdated
from ..records import Hit, Location

__all__ = ["METRICS", "EvalSet", "EvalReport", "OpenDataset", "open_dataset", "evaluate_dataset", "run_evaluation", "TextRecord", "load_questions", "load_beir", "beir_records", "location_key", "run_queries", "score_run", "question_scores", "mean_scores"]

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


@dataclass(frozen=True)
class EvalSet:
    """Questions and graded judgments: ``qrels[query_id][key] = grade``."""

    name: str
    split: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


@dataclass(frozen=True)
class TextRecord:
    """One record of a BEIR corpus, to index as a document of one passage."""

    key: str
    title: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(f"{self.title}\n{self.text}".encode()).hexdigest()


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
    """Read ``questions.jsonl`` (``{"id", "question", "split", "relevant": [...]}`` a line).

    Args:
        path: the questions file.
        split: ``dev``, ``test`` or ``all``.

    Raises:
        DatasetError: the file is missing or a line is malformed.
    """
    queries, qrels = {}, {}
    for number, entry in enumerate(_json_lines(path), start=1):
        try:
            if split not in ("all", entry["split"]):
                continue
            judged = {_judgment_key(item): int(item["grade"]) for item in entry["relevant"]}
            queries[str(entry["id"])] = entry["question"]
            qrels[str(entry["id"])] = judged
        except (KeyError, TypeError, ValueError) as error:
            raise DatasetError(f"{path}, line {number}: {error!r} missing or malformed; see corpus/src/FORMAT.md") from error
    if not queries:
        raise DatasetError(f"{path} has no questions in split {split!r}")
    return EvalSet(name="corpus", split=split, queries=queries, qrels=qrels)


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
    """The records of a BEIR ``corpus.jsonl``."""
    try:
        return [TextRecord(key=str(entry["_id"]), title=entry.get("title") or "", text=entry.get("text") or "")
                for entry in _json_lines(folder / "corpus.jsonl")]
    except KeyError as error:
        raise DatasetError(f"{folder / 'corpus.jsonl'}: a record has no {error}") from error


def run_queries(eval_set: EvalSet, search: Callable[[str], tuple[Hit, ...]], key: Callable[[Hit], str]) -> dict[str, dict[str, float]]:
    """Search every question; keep each key (location or document) at its best passage's score.

    Args:
        eval_set: the questions.
        search: returns the ranked hits of one question.
        key: names the judged unit a hit belongs to.

    Returns:
        ``run[query_id][key] = score``, as ranx takes it.
    """
    run: dict[str, dict[str, float]] = {}
    for query_id, question in eval_set.queries.items():
        ranked: dict[str, float] = {}
        for position, hit in enumerate(search(question)):
            # Scores from rank, so ties (and fusions with other scales) keep the search's order.
            ranked.setdefault(key(hit), 1.0 / (position + 1))
        run[query_id] = ranked
    return run


def score_run(eval_set: EvalSet, run: dict[str, dict[str, float]]) -> dict[str, float]:
    """The mean of each of ``METRICS`` over the questions (a question with no results scores 0)."""
    return mean_scores(question_scores(eval_set, run))


def question_scores(eval_set: EvalSet, run: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each of ``METRICS`` for each judged question: ``scores[metric][query_id]``, to find the questions a mode answers badly."""
    return _ranx_scores(eval_set, run, METRICS)


def mean_scores(scores: dict[str, dict[str, float]]) -> dict[str, float]:
    """The mean over the questions of each metric of ``question_scores``, rounded to 4 places."""
    return {metric: round(float(np.mean(list(by_question.values()))), 4) for metric, by_question in scores.items()}


def _ranx_scores(eval_set: EvalSet, run: dict[str, dict[str, float]], metrics: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """``scores[metric][query_id]`` for every judged question, by ranx."""
    from numba.core.errors import NumbaTypeSafetyWarning
    from ranx import Qrels, Run, evaluate

    # ranx needs at least one entry per query; a sentinel key no judgment names scores zero.
    ranx_run = Run({query_id: run.get(query_id) or {"\u0000none": 0.0} for query_id in eval_set.qrels})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaTypeSafetyWarning)
        # Every judged question is in the run and nothing else, so the two are comparable as they are;
        # ranx keeps each question's scores in the Run, keyed by question id.
        evaluate(Qrels(eval_set.qrels), ranx_run, list(metrics), return_mean=False)
    return {metric: {query_id: float(score) for query_id, score in ranx_run.scores[metric].items()} for metric in metrics}


@dataclass(frozen=True)
class EvalReport:
    """Metrics per retrieval mode for one dataset and split, with where the runs were written."""

    dataset: str
    split: str
    queries: int
    modes: dict[str, dict[str, float]]
    output: Path

    def to_dict(self) -> dict:
        """The ``kb eval --json`` shape."""
        return {"dataset": self.dataset, "split": self.split, "queries": self.queries, "modes": self.modes}


def evaluate_dataset(kb, eval_set: EvalSet, key: Callable[[Hit], str], modes: tuple[str, ...], output_dir: Path) -> EvalReport:
    """Run every mode over the questions, score the runs and save runs and metrics as JSON.

    Args:
        kb: a ``KnowledgeBase`` holding the dataset's index.
        eval_set: the questions and judgments.
        key: names the judged unit of a hit (location or record id).
        modes: retrieval modes to compare.
        output_dir: where ``<dataset>-<split>.json`` is written.

    Returns:
        The metrics of each mode.
    """
    results, runs, questions = {}, {}, {}
    for mode in modes:
        # No per-document cap: it is a display choice, and judgments often name several pages of one document.
        runs[mode] = run_queries(eval_set, lambda question: kb.search(question, k=100, mode=mode, per_document=0, collapse=False).hits, key)
        scores = question_scores(eval_set, runs[mode])
        results[mode] = mean_scores(scores)
        questions[mode] = {query_id: round(score, 4) for query_id, score in scores["ndcg@10"].items()}
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / f"{eval_set.name}-{eval_set.split}.json"
    report = EvalReport(dataset=eval_set.name, split=eval_set.split, queries=len(eval_set.queries), modes=results, output=output)
    output.write_text(json.dumps({**report.to_dict(), "ndcg@10_per_question": questions, "runs": runs}, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


@dataclass(frozen=True)
class OpenDataset:
    """A dataset ready to query: its knowledge base, its questions, and how a hit maps to a judged key."""

    kb: object
    eval_set: EvalSet
    key: Callable[[Hit], str]


def open_dataset(kb, dataset: str | Path, split: str, progress: bool = False) -> OpenDataset:
    """Load a dataset's questions and make sure its index is built.

    Args:
        kb: the ``KnowledgeBase`` whose data directory and model to use.
        dataset: a document folder with ``eval/questions.jsonl`` (e.g. ``corpus``), indexed
            incrementally into ``kb``; or a BEIR folder, indexed once into ``<data dir>/eval/<name>``.
        split: which questions to use.
        progress: show progress bars while indexing.

    Raises:
        DatasetError: ``dataset`` is neither kind of folder.
    """
    folder = Path(dataset)
    if (folder / "eval" / "questions.jsonl").is_file():
        eval_set = load_questions(folder / "eval" / "questions.jsonl", split)
        kb.index([folder], progress=progress)
        return OpenDataset(kb, eval_set, lambda hit: location_key(hit.document.filename, hit.passage.location))
    if (folder / "corpus.jsonl").is_file():
        eval_set = load_beir(folder, split)
        return OpenDataset(_beir_index(kb, folder, progress), eval_set, lambda hit: hit.document.filename)
    raise DatasetError(f"{folder} is neither a document folder with eval/questions.jsonl nor a BEIR folder with corpus.jsonl")


def run_evaluation(kb, dataset: str | Path, split: str, modes: tuple[str, ...], progress: bool = False) -> EvalReport:
    """Evaluate retrieval on a dataset (see ``open_dataset``) in each mode; runs are saved under ``<data dir>/eval``."""
    opened = open_dataset(kb, dataset, split, progress)
    return evaluate_dataset(opened.kb, opened.eval_set, opened.key, modes, kb.data_dir / "eval")


def _beir_index(kb, folder: Path, progress: bool):
    """The knowledge base of a BEIR corpus under ``<data dir>/eval/<name>``, built if missing or incomplete."""
    from ..kb import KnowledgeBase

    records = beir_records(folder)
    # One passage per record, cut by the model at its input limit, as published BEIR figures do.
    beir_kb = KnowledgeBase(kb.data_dir / "eval" / folder.name, embedder=kb.embedder,
                            chunking=ChunkSettings(max_words=100_000, overlap_words=0))
    try:
        complete = beir_kb.stats().documents == len(records)
    except (IndexNotBuilt, IndexOutdated):  # an index of an older format is rebuilt like a missing one
        complete = False
    if not complete:
        beir_kb.close()
        shutil.rmtree(beir_kb.data_dir, ignore_errors=True)
        beir_kb.index_records(records, progress=progress)
    return beir_kb
