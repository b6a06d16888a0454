"""scripts/load_test.py: questions from either dataset format, and a short run against a real gunicorn server.

Only the report's structure is checked (counts, no errors, the index left as it was), never speed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "load_test.py"
KB = [sys.executable, "-m", "indexer"]


def _load_script():
    spec = importlib.util.spec_from_file_location("load_test_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


load_test = _load_script()


def test_questions_come_from_the_corpus_beir_or_a_text_file(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "eval").mkdir(parents=True)
    (corpus / "eval" / "questions.jsonl").write_text(
        '{"id": "m01", "question": "Who paid for the meeting?", "split": "dev"}\n\n'
        '{"id": "m02", "question": "What is the monotributo?", "split": "test"}\n', encoding="utf-8")
    beir = tmp_path / "scifact"
    beir.mkdir()
    (beir / "queries.jsonl").write_text('{"_id": "0", "text": "0-dimensional biomaterials lack inductive properties."}\n',
                                        encoding="utf-8")
    lines = tmp_path / "questions.txt"
    lines.write_text("maternity for herders\n\n  pensions in Zambia \n", encoding="utf-8")
    assert load_test.load_questions(corpus) == ["Who paid for the meeting?", "What is the monotributo?"]
    assert load_test.load_questions(corpus / "eval" / "questions.jsonl") == load_test.load_questions(corpus)
    assert load_test.load_questions(beir) == ["0-dimensional biomaterials lack inductive properties."]
    assert load_test.load_questions(lines) == ["maternity for herders", "pensions in Zambia"]
    with pytest.raises(ValueError):
        load_test.load_questions(tmp_path / "corpus" / "eval")


def test_percentiles_are_nearest_rank():
    values = [float(n) for n in range(1, 101)]
    assert [load_test.percentile(values, q) for q in (0.5, 0.95, 0.99)] == [50.0, 95.0, 99.0]
    assert load_test.percentile([7.0], 0.99) == 7.0 and load_test.percentile([], 0.5) == 0.0


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory) -> Path:
    """A real index (the bundled model: the server loads the model its manifest names) of one short note."""
    folder = tmp_path_factory.mktemp("load")
    note = folder / "maternity.md"
    note.write_text("# Maternity\n\nHerders in Mongolia receive maternity benefits from the social insurance fund.\n",
                    encoding="utf-8")
    data = folder / "data"
    done = subprocess.run([*KB, "index", str(note), "--data-dir", str(data)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return data


@pytest.mark.slow
def test_two_clients_read_while_a_file_is_added_and_removed(tiny_index, tmp_path, capsys):
    questions = tmp_path / "questions.txt"
    questions.write_text("maternity benefits for herders\nWho pays for maternity in Mongolia?\n", encoding="utf-8")
    extra = tmp_path / "pensions.md"
    extra.write_text("# Pensions\n\nZambia's construction workers can join the pension scheme through cooperatives.\n",
                     encoding="utf-8")

    status = load_test.main(["--data-dir", str(tiny_index), "--questions", str(questions), "--clients", "2",
                             "--duration", "2", "--workers", "1", "--during-add", str(extra), "--json"])

    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert report["clients"] == 2 and report["questions"] == 2 and report["k"] == 10
    assert report["queries"] > 0 and report["errors"] == 0 and report["error_kinds"] == {}
    assert set(report["latency_ms"]) == {"p50", "p95", "p99", "mean", "max"}
    assert report["adds"]["added"] >= 1 and report["adds"]["removed"] == report["adds"]["added"]
    assert report["adds"]["failures"] == []
    listed = subprocess.run([*KB, "list", "--json", "--data-dir", str(tiny_index)], capture_output=True, text=True, timeout=120)
    assert [document["filename"] for document in json.loads(listed.stdout)["documents"]] == ["maternity.md"]


@pytest.mark.slow
def test_a_file_of_the_index_is_refused_for_during_add(tiny_index, capsys):
    note = tiny_index.parent / "maternity.md"
    status = load_test.main(["--data-dir", str(tiny_index), "--questions", str(note), "--clients", "1", "--duration", "1",
                             "--workers", "1", "--during-add", str(note)])
    assert status == 2
    assert "indexed already" in capsys.readouterr().err
