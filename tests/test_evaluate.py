"""``kb eval``: a dataset's index opened or built, every mode scored, runs saved beside the index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import indexer.kb
from indexer import KBError
from indexer.cli import main
from indexer.evaluation import evaluation_dir


def test_evaluation_output_goes_in_a_folder_beside_the_index(tmp_path, monkeypatch):
    assert evaluation_dir("var/kb") == Path("var/kb.eval")
    assert evaluation_dir(Path("/srv/kb/")) == Path("/srv/kb.eval")
    (tmp_path / "kb").mkdir()
    monkeypatch.chdir(tmp_path / "kb")
    assert evaluation_dir(".") == tmp_path.resolve() / "kb.eval"
    with pytest.raises(KBError, match="root"):
        evaluation_dir("/")


@pytest.fixture
def beir_folder(tmp_path):
    folder = tmp_path / "minibeir"
    (folder / "qrels").mkdir(parents=True)
    docs = [("d1", "Pensions", "Rural pension schemes pay old people."), ("d2", "Health", "Universal health coverage in Thailand."),
            ("d3", "Tax", "Monotributo merges tax and contributions.")]
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in docs))
    queries = [("1", "rural pension schemes old people"), ("2", "monotributo tax contributions"), ("3", "not judged")]
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": x}) + "\n" for i, x in queries))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n2\td3\t1\n")
    return folder


def test_kb_eval_json_on_a_beir_folder(beir_folder, tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    args = ["eval", str(beir_folder), "--json", "--data-dir", str(tmp_path / "data")]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    body = json.loads(result.output)
    assert body["dataset"] == "minibeir" and body["split"] == "test" and body["queries"] == 2
    assert body["modes"]["dense"] == {"ndcg@10": 1.0, "recall@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0}
    # The BEIR index and the runs are beside the data directory, not in it.
    saved = json.loads((tmp_path / "data.eval" / "minibeir-test.json").read_text())
    assert saved["ndcg@10_per_question"]["dense"] == {query_id: 1.0 for query_id in saved["runs"]["dense"]}
    assert (tmp_path / "data.eval" / "minibeir" / "manifest.json").is_file() and not (tmp_path / "data" / "eval").exists()
    again = CliRunner().invoke(main, args, catch_exceptions=False)
    assert json.loads(again.output) == body
    # A BEIR index of an older format (an earlier version of the indexer) is rebuilt, not refused.
    manifest = evaluation_dir(tmp_path / "data") / "minibeir" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format_version": 4}))
    rebuilt = CliRunner().invoke(main, args, catch_exceptions=False)
    assert json.loads(rebuilt.output) == body and json.loads(manifest.read_text())["format_version"] > 4


def test_kb_eval_on_a_document_folder_prints_a_table(small_corpus, tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    (small_corpus / "eval").mkdir()
    question = {"id": "t1", "question": "Universal Coverage Scheme taxation", "split": "test",
                "relevant": [{"file": "thailand.pptx", "slide": 2, "grade": 2}]}
    (small_corpus / "eval" / "questions.jsonl").write_text(json.dumps(question) + "\n")
    result = CliRunner().invoke(main, ["eval", str(small_corpus), "--data-dir", str(tmp_path / "data")], catch_exceptions=False)
    assert "corpus (test, 1 queries)" in result.output
    dense = next(line for line in result.output.splitlines() if line.startswith("dense"))
    assert dense.split()[1:] == ["1.0000"] * 4
    assert f"runs and metrics written to {tmp_path / 'data.eval' / 'corpus-test.json'}" in result.output


def test_kb_eval_refuses_an_unknown_folder(tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    result = CliRunner().invoke(main, ["eval", str(tmp_path), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1 and "neither a document folder" in result.output
