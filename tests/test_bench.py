"""``kb bench``: latency figures per mode (the figures themselves are reported, not asserted)."""

from __future__ import annotations

import json

from click.testing import CliRunner

import indexer.kb
from indexer.bench import measure_latency
from indexer.cli import main


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
