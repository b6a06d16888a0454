"""``kb bench``: latency figures per mode, and ``--compare`` beside the hand-written stack and txtai (figures reported, not asserted)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Callable

import pytest
from click.testing import CliRunner

import indexer.evaluation.compare
import indexer.evaluation.handwritten
import indexer.kb
import indexer.evaluation.txtai_stack
from indexer import KBError
from indexer.cli import main
from indexer.evaluation import METRICS, evaluation_dir, measure_latency
from indexer.evaluation.compare import cold_start_seconds

from .conftest import make_beir


def test_measure_latency_reports_ordered_percentiles(indexed_kb):
    report = measure_latency(indexed_kb, ["pension", "health coverage", "domestic workers"] * 4, k=3, mode="hybrid")
    assert report.queries == 12 and report.mode == "hybrid"
    assert 0 < report.p50_ms <= report.p95_ms <= report.max_ms


def test_kb_bench_json_lists_every_mode(small_corpus, tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    (small_corpus / "eval").mkdir()
    questions = [{"id": f"q{n}", "question": q, "split": "test", "relevant": [{"file": "thailand.pptx", "slide": 1, "grade": 2}]}
                 for n, q in enumerate(["Section 40", "pensions in China", "domestic workers"])]
    (small_corpus / "eval" / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    result = CliRunner().invoke(main, ["bench", str(small_corpus), "--json", "--data-dir", str(tmp_path / "data")], catch_exceptions=False)
    body = json.loads(result.output)
    assert [entry["mode"] for entry in body["latency"]] == ["hybrid", "dense", "keyword"]
    assert all(entry["queries"] == 3 for entry in body["latency"])


@dataclass
class CompareRun:
    """``kb bench BEIR --compare`` with fakes: what it printed, the cold-start commands and the runs it scored."""

    invoke: Callable[..., str]
    commands: list = field(default_factory=list)
    runs: list = field(default_factory=list)


@pytest.fixture
def compare_run(tmp_path, monkeypatch, fake_embedder) -> CompareRun:
    """The fake embedder in every stack; cold starts and ranx (whose first call compiles for seconds) stubbed and recorded."""
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    monkeypatch.setattr(indexer.evaluation.handwritten, "SentenceTransformerEncoder", lambda path: fake_embedder)
    # txtai's "external" vectors: its hybrid index over the fake embedder's vectors instead of a model.
    monkeypatch.setattr(indexer.evaluation.txtai_stack, "default_config",
                        lambda path: {"transform": lambda texts: fake_embedder.encode(texts), "hybrid": True})
    beir = make_beir(tmp_path / "tinyfact")

    def invoke(*options) -> str:
        arguments = ["bench", str(beir), "--compare", "--data-dir", str(tmp_path / "data"), *options]
        return CliRunner().invoke(main, arguments, catch_exceptions=False).stdout

    recorded = CompareRun(invoke)
    monkeypatch.setattr(indexer.evaluation.compare, "cold_start_seconds", lambda command: recorded.commands.append(command) or 0.25)
    monkeypatch.setattr(indexer.evaluation.compare, "score_run", lambda eval_set, run: recorded.runs.append(run) or {m: 0.5 for m in METRICS})
    return recorded


def test_kb_bench_compare_json_gives_both_stacks_every_figure(compare_run, tmp_path):
    body = json.loads(compare_run.invoke("--json", "--queries", "3"))
    assert (body["dataset"], body["split"], body["passages"], body["questions"], body["timed_questions"]) == ("tinyfact", "test", 30, 4, 3)
    assert body["machine"]["cores"] >= 1 and body["machine"]["cpu"] and len(body["machine"]["load_average"]) == 3
    for stack in body["stacks"].values():
        assert stack["passages"] == 30 and stack["forward_passages"] == 30
        assert stack["build_seconds"] > 0 and stack["build_passages_per_s"] > 0 and stack["forward_passages_per_s"] > 0
        assert [mode for mode in stack["latency"]] == ["hybrid", "dense", "keyword"]
        assert all(report["queries"] == 3 and 0 < report["p50_ms"] <= report["p95_ms"] for report in stack["latency"].values())
        assert stack["cold_start_seconds"] == 0.25 and len(stack["cold_start_runs"]) == 3
        assert stack["quality"] == {mode: {metric: 0.5 for metric in METRICS} for mode in ("hybrid", "dense", "keyword")}
    figures = [row["figure"] for row in body["rows"]]
    assert figures[:3] == ["build from nothing (s)", "build (passages/s)", "forward pass (passages/s)"]
    assert "cold start, one question (s)" in figures and figures[-3:] == ["nDCG@10 hybrid", "nDCG@10 dense", "nDCG@10 keyword"]
    assert all(row["ratio"] is None or row["ratio"] > 0 for row in body["rows"])
    ours, theirs = compare_run.commands[0], compare_run.commands[-1]
    assert "search" in ours and "--data-dir" in ours and theirs[1:3] == ["-P", indexer.evaluation.handwritten.__file__]
    # Both builds are made beside the index, not in it, and removed afterwards.
    assert not any((evaluation_dir(tmp_path / "data") / "bench").iterdir()) and not (tmp_path / "data" / "bench").exists()


def test_kb_bench_compare_scores_runs_of_record_ids_like_kb_eval(compare_run):
    compare_run.invoke("--json")
    assert len(compare_run.runs) == 6  # three modes, this project's then the hand-written stack's
    for run in compare_run.runs:
        assert set(run) == {"q1", "q2", "q3", "q4"} and all(key.startswith("d") for ranked in run.values() for key in ranked)
    for keyword_run in (compare_run.runs[2], compare_run.runs[5]):
        # The record holding every word of the question comes first, scored from its rank as run_queries does.
        assert [max(keyword_run[q], key=keyword_run[q].get) for q in ("q1", "q2", "q3")] == ["d1", "d12", "d19"]
        assert max(keyword_run["q1"].values()) == 1.0


def test_kb_bench_compare_prints_an_aligned_table(compare_run):
    lines = compare_run.invoke("--forward-sample", "7", "--mode", "keyword").splitlines()
    assert lines[0].startswith("tinyfact (test): 30 passages, 4 questions") and "forward pass on 7 passages" in lines[0]
    assert lines[1].startswith("machine: ") and "cores available" in lines[1] and "load average" in lines[1]
    table = [line for line in lines if line.startswith("|")]
    assert "this project" in table[0] and "hand-written (ST+FAISS+bm25s)" in table[0] and "ratio" in table[0]
    assert len({len(line) for line in table}) == 1  # aligned
    assert [line.split("|")[1].strip() for line in table[2:]] == [
        "build from nothing (s)", "build (passages/s)", "forward pass (passages/s)", "keyword p50 (ms)", "keyword p95 (ms)",
        "cold start, one question (s)", "nDCG@10 keyword"]


@pytest.mark.slow  # several processes for seconds, or txtai's import of PyTorch
def test_kb_bench_compare_with_txtai_adds_its_column_and_ratio(compare_run):
    lines = compare_run.invoke("--txtai", "--mode", "dense").splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert [cell.strip() for cell in table[0].strip("|").split("|")] == [
        "figure", "this project", "hand-written (ST+FAISS+bm25s)", "ratio", "txtai (hybrid=True)", "ratio (txtai)"]
    assert len({len(line) for line in table}) == 1  # aligned
    rows = {cells[0]: cells[1:] for cells in ([cell.strip() for cell in line.strip("|").split("|")] for line in table[2:])}
    assert rows["forward pass (passages/s)"][3:] == ["—", "—"]  # txtai's forward pass is not timed
    others = [values for figure, values in rows.items() if figure != "forward pass (passages/s)"]
    assert all(float(values[3]) >= 0 and float(values[4]) > 0 for values in others)  # txtai's figure and ratio
    assert "txtai: Embeddings(path=model, hybrid=True)" in lines[-1]


def test_kb_bench_compare_json_with_txtai_gives_its_figures(compare_run):
    body = json.loads(compare_run.invoke("--txtai", "--json", "--queries", "3"))
    txtai = body["stacks"]["txtai"]
    assert list(body["stacks"]) == ["this_project", "handwritten", "txtai"] and txtai["name"] == "txtai (hybrid=True)"
    assert txtai["passages"] == 30 and txtai["build_seconds"] > 0 and set(txtai["build_detail"]) == {"index_seconds", "save_seconds"}
    assert txtai["forward_seconds"] is None and txtai["forward_passages_per_s"] is None
    assert all(report["queries"] == 3 and 0 < report["p50_ms"] <= report["p95_ms"] for report in txtai["latency"].values())
    assert txtai["cold_start_seconds"] == 0.25 and list(txtai["quality"]) == ["hybrid", "dense", "keyword"]
    assert all({"this_project", "handwritten", "ratio", "txtai", "txtai_ratio"} <= set(row) for row in body["rows"])
    assert compare_run.commands[-1][1:3] == ["-P", indexer.evaluation.txtai_stack.__file__]
    assert len(compare_run.runs) == 9  # three modes for each of the three stacks
    # txtai's keyword ranking (weights 0) puts the record holding every word of the question first, as the others do.
    assert [max(compare_run.runs[8][q], key=compare_run.runs[8][q].get) for q in ("q1", "q2", "q3")] == ["d1", "d12", "d19"]


def test_kb_bench_txtai_needs_compare_and_txtai(compare_run, monkeypatch, tmp_path):
    beir = make_beir(tmp_path / "other")
    result = CliRunner().invoke(main, ["bench", str(beir), "--txtai", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code != 0 and "--txtai goes with --compare" in result.output
    monkeypatch.setattr(indexer.evaluation.txtai_stack, "available", lambda: False)
    result = CliRunner().invoke(main, ["bench", str(beir), "--compare", "--txtai", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code != 0 and "pip install txtai==9.14.0" in result.output and not compare_run.commands


def test_kb_bench_compare_refuses_a_folder_that_is_not_beir(small_corpus, tmp_path):
    result = CliRunner().invoke(main, ["bench", str(small_corpus), "--compare", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code != 0 and "BEIR" in result.output


def test_cold_start_is_the_wall_clock_of_a_new_process():
    assert cold_start_seconds([sys.executable, "-c", "pass"]) > 0
    with pytest.raises(KBError, match="cold start failed"):
        cold_start_seconds([sys.executable, "-c", "raise SystemExit('no index here')"])


def test_kb_bench_compare_takes_questions_longer_than_the_web_api_does(compare_run, tmp_path):
    long_question = "pension in Zambia " * 50
    queries = tmp_path / "tinyfact" / "queries.jsonl"
    rows = [json.loads(line) for line in queries.read_text().splitlines()]
    queries.write_text("".join(json.dumps({**row, "text": long_question if row["_id"] == "q1" else row["text"]}) + "\n" for row in rows))
    compare_run.invoke("--json", "--mode", "dense")
    assert len(compare_run.runs) == 2 and all(run["q1"] for run in compare_run.runs)  # searched whole, in both stacks
    # A cold start is `kb search` (or a stack's script) in a new process: it answers the question cut to the API's limit.
    assert all(long_question[:500] in command and long_question not in command for command in compare_run.commands)
