"""How fast a model embeds, and what marking answering sentences costs a search (README, "A multilingual model").

    python scripts/model_speed.py --model all-MiniLM-L6-v2 --model multilingual-e5-small \
        [--data-dir all-MiniLM-L6-v2=var/kb --data-dir multilingual-e5-small=var/kb-e5]

For each model: passages/s over 400 SciFact abstracts embedded in one call, and one question embedded
(p50/p95 of 200 SciFact questions, one by one). For each ``--data-dir MODEL=DIR`` (an index of the corpus built
with that model): search p50/p95 over the corpus questions, k 10, without answers and with 3. Run it on an
idle machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from indexer.embed import load_embedder, passage_vectors, question_vector
from indexer.kb import KnowledgeBase

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "scifact"
QUESTIONS = Path(__file__).resolve().parents[1] / "corpus" / "eval" / "questions.jsonl"


def _percentiles(seconds: list[float]) -> str:
    return f"p50 {np.median(seconds) * 1e3:.1f} ms, p95 {np.percentile(seconds, 95) * 1e3:.1f} ms"


def embedding_speed(model: str, scifact: Path) -> str:
    """Passages/s and one question's time for ``model``."""
    records = [json.loads(line) for line in (scifact / "corpus.jsonl").open(encoding="utf-8")]
    passages = [record.get("title", "") + "\n" + record["text"] for record in records[::10]][:400]
    questions = [json.loads(line)["text"] for line in (scifact / "queries.jsonl").open(encoding="utf-8")][:200]
    embedder = load_embedder(model)
    passage_vectors(embedder, passages[:32])
    started = time.perf_counter()
    passage_vectors(embedder, passages)
    rate = len(passages) / (time.perf_counter() - started)
    seconds = []
    for question in questions:
        started = time.perf_counter()
        question_vector(embedder, question)
        seconds.append(time.perf_counter() - started)
    return f"{model}: {rate:.1f} passages/s; one question {_percentiles(seconds)}"


def answer_cost(model: str, data_dir: str) -> list[str]:
    """Search times over the corpus questions without and with 3 answering sentences."""
    kb = KnowledgeBase(data_dir, model=model)
    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    for question in questions[:10]:
        kb.search(question, answers=3)
    lines = []
    for answers in (0, 3):
        seconds = []
        for question in questions:
            started = time.perf_counter()
            kb.search(question, k=10, answers=answers)
            seconds.append(time.perf_counter() - started)
        lines.append(f"{model} search, {answers} answers: {_percentiles(seconds)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, help="a model name (repeat for several)")
    parser.add_argument("--data-dir", action="append", default=[], metavar="MODEL=DIR", help="a corpus index of MODEL")
    parser.add_argument("--scifact", type=Path, default=SCIFACT, help="the BEIR SciFact folder")
    arguments = parser.parse_args()
    for model in arguments.model:
        print(embedding_speed(model, arguments.scifact), flush=True)
    for pair in arguments.data_dir:
        model, _, data_dir = pair.partition("=")
        print("\n".join(answer_cost(model, data_dir)), flush=True)


if __name__ == "__main__":
    main()
