"""Run an evaluation: open a dataset's index, search its questions in each mode, score and save the runs.

``kb eval`` calls ``run_evaluation``; ``kb bench`` calls ``open_dataset`` for its questions and index.
Everything evaluation writes goes to ``evaluation_dir(data_dir)``, beside the index and not inside it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..chunk import ChunkSettings
from ..errors import DatasetError, IndexNotBuilt, IndexOutdated
from ..kb import KnowledgeBase
from ..layout import IndexLayout
from ..records import Hit
from .eval_sets import EvalSet, beir_records, load_beir, load_questions, location_key
from .metrics import breakdown, mean_scores, question_scores, run_queries, without_identical_ids

__all__ = ["BEIR_CHUNKING", "EVAL_MAX_QUERY_CHARS", "EvalReport", "OpenDataset", "evaluation_dir", "open_dataset",
           "evaluate_dataset", "run_evaluation"]

#: One passage per BEIR record, cut by the model at its input limit, as published BEIR figures do.
BEIR_CHUNKING = ChunkSettings(max_words=100_000, overlap_words=0)


#: The longest question evaluation accepts, far above the web API's ``KB_MAX_QUERY_CHARS``: a BEIR question
#: can be a whole document (ArguAna's are arguments of a thousand characters and more). The dense side reads
#: what the model's input holds (the tokenizer cuts the rest); the keyword side reads every word.
EVAL_MAX_QUERY_CHARS = 100_000


def evaluation_dir(data_dir: str | Path) -> Path:
    """Where evaluation output of the index in ``data_dir`` goes (``layout.IndexLayout.evaluation_dir``)."""
    return IndexLayout(Path(data_dir)).evaluation_dir


@dataclass(frozen=True)
class EvalReport:
    """Metrics per retrieval mode for one dataset and split, with where the runs were written.

    ``by_label`` holds nDCG@10 per mode for each kind and language of question (``metrics.breakdown``;
    empty for BEIR); ``ignore_identical_ids`` says hits whose id is their question's were left out.
    """

    dataset: str
    split: str
    queries: int
    modes: dict[str, dict[str, float]]
    output: Path
    by_label: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    ignore_identical_ids: bool = False

    def to_dict(self) -> dict:
        """The ``kb eval --json`` shape (``ndcg@10_by`` when questions are labelled, ``ignore_identical_ids`` when set)."""
        shape = {"dataset": self.dataset, "split": self.split, "queries": self.queries, "modes": self.modes}
        if self.by_label:
            shape["ndcg@10_by"] = self.by_label
        if self.ignore_identical_ids:
            shape["ignore_identical_ids"] = True
        return shape


def evaluate_dataset(kb: KnowledgeBase, eval_set: EvalSet, key: Callable[[Hit], str], modes: tuple[str, ...],
                     output_dir: Path, ignore_identical_ids: bool = False) -> EvalReport:
    """Run every mode over the questions, score the runs and save runs and metrics as JSON.

    Args:
        kb: the knowledge base holding the dataset's index.
        eval_set: the questions and judgments.
        key: names the judged unit of a hit (location or record id).
        modes: retrieval modes to compare.
        output_dir: where ``<dataset>-<split>.json`` is written.
        ignore_identical_ids: leave out a hit whose key is its question's id (BEIR's convention).

    Returns:
        The metrics of each mode, overall and by kind and language of question.
    """
    results, runs, questions, unrounded = {}, {}, {}, {}
    for mode in modes:
        # No per-document cap: it is a display choice, and judgments often name several pages of one document.
        runs[mode] = run_queries(eval_set, lambda question: kb.search(question, k=100, mode=mode, per_document=0, collapse=False,
                                                                      max_chars=EVAL_MAX_QUERY_CHARS).hits, key)
        if ignore_identical_ids:
            runs[mode] = without_identical_ids(runs[mode])
        scores = question_scores(eval_set, runs[mode])
        results[mode] = mean_scores(scores)
        unrounded[mode] = scores["ndcg@10"]
        questions[mode] = {query_id: round(score, 4) for query_id, score in scores["ndcg@10"].items()}
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / f"{eval_set.name}-{eval_set.split}.json"
    report = EvalReport(dataset=eval_set.name, split=eval_set.split, queries=len(eval_set.queries), modes=results, output=output,
                        by_label=breakdown(eval_set, unrounded), ignore_identical_ids=ignore_identical_ids)
    saved = {**report.to_dict(), "ndcg@10_per_question": questions, "runs": runs}
    output.write_text(json.dumps(saved, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


@dataclass(frozen=True)
class OpenDataset:
    """A dataset ready to query: its knowledge base, its questions, and how a hit maps to a judged key."""

    kb: KnowledgeBase
    eval_set: EvalSet
    key: Callable[[Hit], str]


def open_dataset(kb: KnowledgeBase, dataset: str | Path, split: str, progress: bool = False) -> OpenDataset:
    """Load a dataset's questions and make sure its index is built.

    Args:
        kb: the knowledge base whose data directory and model to use.
        dataset: a document folder with ``eval/questions.jsonl`` (e.g. ``corpus``), indexed
            incrementally into ``kb``; or a BEIR folder, indexed once into ``evaluation_dir(kb.data_dir) / <name>``.
        split: which questions to use.
        progress: show progress bars while indexing.

    Returns:
        The knowledge base to search (``kb``, or the BEIR folder's own), the questions and the hit-to-key mapping.

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


def run_evaluation(kb: KnowledgeBase, dataset: str | Path, split: str, modes: tuple[str, ...],
                   progress: bool = False, ignore_identical_ids: bool = False) -> EvalReport:
    """Evaluate retrieval on a dataset (see ``open_dataset``) in each mode; runs are saved in ``evaluation_dir``.

    ``ignore_identical_ids``: leave out a hit whose id is its question's (BEIR's convention; see ``evaluate_dataset``).
    """
    opened = open_dataset(kb, dataset, split, progress)
    return evaluate_dataset(opened.kb, opened.eval_set, opened.key, modes, evaluation_dir(kb.data_dir), ignore_identical_ids)


def _beir_index(kb: KnowledgeBase, folder: Path, progress: bool) -> KnowledgeBase:
    """The knowledge base of a BEIR corpus in ``evaluation_dir(kb.data_dir) / <name>``, built if missing or incomplete."""
    records = beir_records(folder)
    # Its questions may be long (``kb bench`` times them through this knowledge base's own search).
    beir_kb = KnowledgeBase(evaluation_dir(kb.data_dir) / folder.name, embedder=kb.embedder, chunking=BEIR_CHUNKING,
                            max_query_chars=EVAL_MAX_QUERY_CHARS, fusion=kb.fusion)
    try:
        complete = beir_kb.stats().documents == len(records)
    except (IndexNotBuilt, IndexOutdated):  # an index of an older format is rebuilt like a missing one
        complete = False
    if not complete:
        beir_kb.close()
        shutil.rmtree(beir_kb.data_dir, ignore_errors=True)
        beir_kb.index_records(records, progress=progress)
    return beir_kb
