"""scripts/load_test.py (and its scripts/loadtest/ package): questions from either dataset format, the writes'
schedule and the stale-answer check, and short runs against a real gunicorn server, with sync and gthread workers.

Only the report's structure and correctness are checked (counts, no errors, no removed document answered more
than 1 s after its DELETE, the index left as it was), never speed.
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
from loadtest import api_writes, clients  # noqa: E402  (beside the script, which put its folder on sys.path)

#: gunicorn's worker classes the server tests run with, by threads per worker.
WORKER_CLASSES = {1: "sync", 4: "gthread"}


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


def test_each_client_asks_its_questions_and_every_word_of_the_notes():
    questions, words = ["q0", "q1", "q2", "q3"], ["w0", "w1", "w2"]
    assert clients.client_questions(questions, [], 1, 2) == ["q1", "q3"]
    assert clients.client_questions(questions, words, 1, 2) == ["q1", "w1", "q3", "w2", "q1", "w0"]
    assert clients.client_questions(["q0"], words, 3, 4) == ["q0", "w0", "q0", "w1", "q0", "w2"]


def test_answers_name_the_watched_documents_with_their_other_formats():
    body = json.dumps({"results": [{"document": {"id": 3}, "also_as": []},
                                   {"document": {"id": 12}, "also_as": [{"id": 14}, {"id": 2}]}]}).encode()
    assert clients.documents_named(body, 10) == (12, 14)
    assert clients.documents_named(body, 20) == ()


def test_the_writes_interleave_adds_and_removals():
    def written(schedule):
        return [(write.kind, write.note) for write in schedule]

    assert written(api_writes.write_schedule(4, 2)) == [("add", 0), ("add", 1), ("remove", 0), ("add", 2), ("add", 3), ("remove", 1)]
    schedule = written(api_writes.write_schedule(20, 10))
    assert [number for kind, number in schedule if kind == "add"] == list(range(20))
    assert [number for kind, number in schedule if kind == "remove"] == list(range(10))
    assert all(schedule.index(("add", number)) < schedule.index(("remove", number)) for number in range(10))
    assert written(api_writes.write_schedule(3, 0)) == [("add", 0), ("add", 1), ("add", 2)]


def test_notes_each_hold_their_own_word(tmp_path):
    notes = api_writes.make_notes(tmp_path, 20)
    texts = [note.path.read_text(encoding="utf-8") for note in notes]
    assert len({note.word for note in notes}) == 20 and len(set(texts)) == 20
    for note, text in zip(notes, texts):
        assert [other.word in text for other in notes].count(True) == 1 and note.word in text
    again = tmp_path / "again"
    again.mkdir()
    assert [note.word for note in api_writes.make_notes(again, 20)] == [note.word for note in notes]


def test_only_answers_asked_after_the_grace_are_stale():
    removals = [api_writes.Removal(21, 100.0), api_writes.Removal(22, 200.0)]
    sightings = [clients.Sighting(99.0, (21, 22)), clients.Sighting(100.5, (21,)), clients.Sighting(101.0, (21,)),
                 clients.Sighting(101.25, (21, 23)), clients.Sighting(150.0, (23,)), clients.Sighting(203.0, (22,))]
    stale = api_writes.stale_hits(sightings, removals)
    assert stale == [api_writes.StaleHit(21, 1.25), api_writes.StaleHit(22, 3.0)]
    assert api_writes.seen_before_removal(sightings, removals) == 2
    assert api_writes.stale_hits(sightings[:3], removals) == []


@pytest.mark.slow
@pytest.mark.parametrize("threads", list(WORKER_CLASSES))
def test_two_clients_read_while_a_file_is_added_and_removed(tiny_index, tmp_path, capsys, threads):
    questions = tmp_path / "questions.txt"
    questions.write_text("maternity benefits for herders\nWho pays for maternity in Mongolia?\n", encoding="utf-8")
    extra = tmp_path / "pensions.md"
    extra.write_text("# Pensions\n\nZambia's construction workers can join the pension scheme through cooperatives.\n",
                     encoding="utf-8")

    status = load_test.main(["--data-dir", str(tiny_index), "--questions", str(questions), "--clients", "2",
                             "--duration", "2", "--workers", "1", "--threads", str(threads), "--during-add", str(extra),
                             "--json"])

    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert report["worker_class"] == WORKER_CLASSES[threads] and report["threads"] == threads
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


@pytest.mark.slow
@pytest.mark.parametrize("threads", list(WORKER_CLASSES))
def test_readers_never_get_a_removed_document_a_second_after_its_delete(tiny_index, tmp_path, capsys, threads):
    """8 readers for 15 s against 2 workers while 20 notes are uploaded and 10 of them deleted over the API."""
    questions = tmp_path / "questions.txt"
    questions.write_text("maternity benefits for herders\nWho pays for maternity in Mongolia?\n", encoding="utf-8")

    status = load_test.main(["--data-dir", str(tiny_index), "--questions", str(questions), "--clients", "8",
                             "--duration", "15", "--workers", "2", "--threads", str(threads),
                             "--during-api-writes", "20", "10", "--json"])

    report = json.loads(capsys.readouterr().out)
    writes = report["api_writes"]
    assert writes["failures"] == [] and report["errors"] == 0 and report["error_kinds"] == {}
    assert report["worker_class"] == WORKER_CLASSES[threads] and report["workers"] == 2
    assert writes["added"] == 20 and writes["removed"] == 10 and writes["cleaned_up"] == 10
    assert writes["stale_hits"] == 0 and writes["stale_examples"] == []
    assert writes["removed_seen_before"] >= 1  # the readers did find the documents that were then removed
    assert report["queries"] > 0 and {"p50", "p99"} <= set(report["latency_ms"])
    assert status == 0
    listed = subprocess.run([*KB, "list", "--json", "--data-dir", str(tiny_index)], capture_output=True, text=True, timeout=120)
    assert [document["filename"] for document in json.loads(listed.stdout)["documents"]] == ["maternity.md"]
