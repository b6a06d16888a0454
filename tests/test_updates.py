"""Adding, updating and removing documents while the index keeps answering."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import indexer.kb
from indexer import DocumentNotFound, DuplicateDocument, InvalidField, KnowledgeBase, NoTextFound
from indexer.cli import main
from indexer.store import Store


def test_add_then_update_keeps_the_id_and_replaces_the_passages(fake_kb, tmp_path):
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nMaternity benefits for herders in Mongolia.\n")
    first = fake_kb.add(note, {"countries": "Mongolia", "session": "6"})
    assert first.metadata == {"countries": ["Mongolia"], "session": 6}
    note.write_text("# Note\n\nUnemployment insurance for platform couriers.\n")
    second = fake_kb.add(note)
    assert second.id == first.id and second.sha256 != first.sha256
    texts = [hit.passage.text for hit in fake_kb.search("maternity herders", k=5, mode="keyword").hits]
    assert not any("herders" in text for text in texts)


def test_same_content_under_another_name_is_refused(fake_kb, tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nSame words.\n")
    (tmp_path / "b.md").write_text("# A\n\nSame words.\n")
    kept = fake_kb.add(tmp_path / "a.md")
    with pytest.raises(DuplicateDocument) as caught:
        fake_kb.add(tmp_path / "b.md")
    assert caught.value.document_id == kept.id and f"document {kept.id}" in caught.value.message


def test_update_fields_changes_filters_and_keyword_context(indexed_kb):
    document = next(d for d in indexed_kb.documents() if d.filename == "zambia.docx")
    updated = indexed_kb.update(document.id, {"title": "Kwacha field notes", "countries": ["Zambia"], "type": "report"})
    assert updated.title == "Kwacha field notes" and updated.type == "report" and updated.id == document.id
    assert indexed_kb.search("Kwacha", k=3, mode="keyword").hits[0].document.id == document.id
    assert {h.document.id for h in indexed_kb.search("workers", filters={"country": ("Zambia",)}).hits} == {document.id}
    cleared = indexed_kb.update(document.id, {"countries": None})
    assert "countries" not in cleared.metadata
    with pytest.raises(InvalidField, match="unknown field 'colour'"):
        indexed_kb.update(document.id, {"colour": "red"})
    with pytest.raises(InvalidField, match="whole number"):
        indexed_kb.update(document.id, {"session": "two"})


def test_remove_takes_the_document_out_of_both_sides(indexed_kb):
    document = next(d for d in indexed_kb.documents() if d.filename == "thailand.pptx")
    indexed_kb.remove(document.id)
    for mode in ("keyword", "dense", "hybrid"):
        assert document.id not in {h.document.id for h in indexed_kb.search("Section 40 Universal Coverage", k=20, mode=mode).hits}
    assert not (indexed_kb.data_dir / document.original).exists()
    with pytest.raises(DocumentNotFound):
        indexed_kb.remove(document.id)


def test_unreadable_upload_changes_nothing(indexed_kb, tmp_path):
    before = indexed_kb.stats()
    empty = tmp_path / "empty.md"
    empty.write_text("   \n")
    with pytest.raises(NoTextFound):
        indexed_kb.add(empty)
    assert indexed_kb.stats() == before


def test_prune_removes_documents_whose_files_are_gone(indexed_kb, small_corpus):
    (small_corpus / "monotributo.md").unlink()
    report = indexed_kb.index([small_corpus], prune=True)
    assert [Path(p).name for p in report.removed] == ["monotributo.md"]
    assert sorted(d.filename for d in indexed_kb.documents()) == ["pensions.pdf", "thailand.pptx", "zambia.docx"]


def test_another_process_sees_a_commit_at_its_next_search(indexed_kb, fake_embedder, tmp_path):
    reader = KnowledgeBase(indexed_kb.data_dir, embedder=fake_embedder)
    assert not reader.search("couriers platform", k=3, mode="keyword").hits
    note = tmp_path / "new.md"
    note.write_text("# New\n\nPlatform couriers and delivery riders.\n")
    added = indexed_kb.add(note)
    assert reader.search("couriers platform", k=3, mode="dense").hits[0].document.id == added.id
    indexed_kb.remove(added.id)
    assert added.id not in {h.document.id for h in reader.search("couriers platform", k=3, mode="dense").hits}


def test_a_fresh_reader_agrees_with_sqlite_after_adds(indexed_kb, tmp_path):
    snapshots = sorted(indexed_kb.data_dir.glob("vectors-*.faiss"))
    assert len(snapshots) == 1
    for number in range(3):
        (tmp_path / f"n{number}.md").write_text(f"# N{number}\n\nA short note {number}.\n")
    big = [indexed_kb.add(tmp_path / f"n{number}.md") for number in range(3)]
    # 3 passages against an index of 8: over 5%, so a snapshot is due; a fresh reader agrees with SQLite either way.
    fresh = Store.open(indexed_kb.data_dir)
    assert fresh.vector_index().ntotal == fresh.counts()[1]
    assert big


def test_cli_add_and_remove(monkeypatch, tmp_path, fake_embedder, small_corpus):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    data = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    added = runner.invoke(main, ["add", str(small_corpus / "monotributo.md"), "--type", "report", "--country", "Argentina",
                                 "--country", "Uruguay", "--date", "2017-05", *data], catch_exceptions=False)
    assert added.exit_code == 0 and "Monotributo" in added.output
    listed = json.loads(runner.invoke(main, ["list", "--json", *data]).output)["documents"]
    assert listed[0]["metadata"] == {"type": "report", "countries": ["Argentina", "Uruguay"], "date": "2017-05"}
    bad = runner.invoke(main, ["add", str(small_corpus / "monotributo.md"), "--date", "May 2017", *data])
    assert bad.exit_code == 1 and "must be a date like 2017-05-23" in bad.output
    removed = runner.invoke(main, ["remove", str(small_corpus / "monotributo.md"), *data], catch_exceptions=False)
    assert removed.exit_code == 0 and "removed 1" in removed.output
    missing = runner.invoke(main, ["remove", "99", *data])
    assert missing.exit_code == 1 and "no document with id 99" in missing.output


# -- crashes and concurrency (real processes) -----------------------------------------------------

WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from tests.conftest import FakeEmbedder
    from indexer import DocumentNotFound, KnowledgeBase
    kb = KnowledgeBase({data!r}, embedder=FakeEmbedder())
    files = sorted(Path({folder!r}).glob("*.md"))
    while True:
        for path in files:
            kb.add(path)
        for document in kb.documents()[:3]:
            try:
                kb.remove(document.id)
            except DocumentNotFound:  # the other writer removed it first
                pass
""")


def check_consistent(data_dir: Path, embedder) -> None:
    """The index opens; every passage has one keyword row and one vector; search answers."""
    db = sqlite3.connect(data_dir / "kb.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    passages = db.execute("SELECT count(*) FROM passages").fetchone()[0]
    assert db.execute("SELECT count(*) FROM passages_fts").fetchone()[0] == passages
    assert db.execute("SELECT count(*) FROM passages p LEFT JOIN documents d ON d.id = p.document_id WHERE d.id IS NULL").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM passages WHERE length(vector) != 4 * 64").fetchone()[0] == 0
    db.close()
    kb = KnowledgeBase(data_dir, embedder=embedder)
    assert kb.store.vector_index().ntotal == passages
    kb.search("pension coverage", k=3)
    kb.close()


@pytest.fixture
def many_notes(tmp_path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    for number in range(30):
        words = " ".join(random.Random(number).choice(["pension", "health", "workers", "tax", "coverage", "ASEAN"]) for _ in range(400))
        (folder / f"note{number:02}.md").write_text(f"# Note {number}\n\n{words}.\n")
    return folder


@pytest.mark.slow  # several processes for seconds, or txtai's import of PyTorch
def test_killing_a_writer_at_random_moments_leaves_a_consistent_index(tmp_path, many_notes, fake_embedder):
    data_dir = tmp_path / "data"
    KnowledgeBase(data_dir, embedder=fake_embedder).add(many_notes / "note00.md")
    script = WRITER.format(root=str(Path(__file__).resolve().parents[1]), data=str(data_dir), folder=str(many_notes))
    rng = random.Random(7)
    for _ in range(12):
        writer = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.3, 2.0))
        assert writer.poll() is None, writer.stderr.read().decode()
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stderr.close()
        check_consistent(data_dir, fake_embedder)
    # The dead writers' locks are gone: a new writer gets in at once.
    started = time.monotonic()
    KnowledgeBase(data_dir, embedder=fake_embedder).add(many_notes / "note01.md")
    assert time.monotonic() - started < 10


SEARCHER = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {root!r})
    from tests.conftest import FakeEmbedder
    from indexer import KnowledgeBase
    kb = KnowledgeBase({data!r}, embedder=FakeEmbedder())
    errors, searches, seen = [], 0, set()
    deadline = time.monotonic() + {seconds}
    while time.monotonic() < deadline:
        try:
            result = kb.search("pension workers coverage", k=5)
            seen.update(hit.document.filename for hit in result.hits)
            searches += 1
        except Exception as error:
            errors.append(repr(error))
    print(json.dumps({{"errors": errors, "searches": searches, "documents": kb.stats().documents}}))
""")


@pytest.mark.slow  # several processes for seconds, or txtai's import of PyTorch
def test_searching_from_another_process_during_updates_sees_no_error(tmp_path, many_notes, fake_embedder):
    data_dir = tmp_path / "data"
    kb = KnowledgeBase(data_dir, embedder=fake_embedder)
    kb.add(many_notes / "note00.md")
    script = SEARCHER.format(root=str(Path(__file__).resolve().parents[1]), data=str(data_dir), seconds=6)
    searcher = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    for path in sorted(many_notes.glob("*.md"))[1:]:
        kb.add(path)
    for document in kb.documents()[:10]:
        kb.remove(document.id)
    output, _ = searcher.communicate(timeout=60)
    report = json.loads(output)
    assert report["errors"] == []
    assert report["searches"] > 20
    assert report["documents"] == kb.stats().documents == 20


@pytest.mark.slow  # several processes for seconds, or txtai's import of PyTorch
def test_two_writers_at_once_are_serialised(tmp_path, many_notes, fake_embedder):
    data_dir = tmp_path / "data"
    KnowledgeBase(data_dir, embedder=fake_embedder).add(many_notes / "note00.md")
    script = WRITER.format(root=str(Path(__file__).resolve().parents[1]), data=str(data_dir), folder=str(many_notes))
    writers = [subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE) for _ in range(2)]
    time.sleep(4)
    for writer in writers:
        assert writer.poll() is None, writer.stderr.read().decode()
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stderr.close()
    check_consistent(data_dir, fake_embedder)
