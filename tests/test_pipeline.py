"""Indexing runs through ``KnowledgeBase`` with the fake embedder: change detection, skips, catalogue, ignores, model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexer import KnowledgeBase
from indexer.errors import ModelMismatch

from .conftest import FakeEmbedder, make_pdf

CORPUS_FILES = ["monotributo.md", "pensions.pdf", "thailand.pptx", "zambia.docx"]


class CountingEmbedder(FakeEmbedder):
    """The fake embedder, remembering every text it was asked to embed."""

    def __init__(self, name: str = FakeEmbedder.name):
        self.name = name
        self.texts: list[str] = []

    def encode(self, texts, batch_size: int = 32):
        self.texts.extend(texts)
        return super().encode(texts, batch_size)


def _names(paths) -> list[str]:
    return sorted(Path(path).name for path in paths)


def _by_filename(kb: KnowledgeBase) -> dict:
    return {document.filename: document for document in kb.documents()}


def test_first_run_indexes_every_file(fake_kb, small_corpus):
    report = fake_kb.index([small_corpus])
    assert _names(report.indexed) == CORPUS_FILES
    assert (report.unchanged, report.skipped, report.duplicates) == ([], {}, {})
    stats = fake_kb.stats()
    assert (stats.documents, stats.passages, stats.model) == (4, report.passages, FakeEmbedder.name)
    assert report.passages >= 4


def test_second_run_embeds_nothing(indexed_kb, small_corpus):
    counting = CountingEmbedder()
    report = KnowledgeBase(indexed_kb.data_dir, embedder=counting).index([small_corpus])
    assert _names(report.unchanged) == CORPUS_FILES
    assert (report.indexed, report.passages) == ([], 0)
    assert counting.texts == []


def test_changed_file_is_reindexed_under_its_id(indexed_kb, small_corpus):
    before = _by_filename(indexed_kb)["monotributo.md"]
    (small_corpus / "monotributo.md").write_text("# Monotributo\n\nUruguay adopted a similar regime in 2001.\n", encoding="utf-8")
    counting = CountingEmbedder()
    kb = KnowledgeBase(indexed_kb.data_dir, embedder=counting)
    report = kb.index([small_corpus])
    assert _names(report.indexed) == ["monotributo.md"]
    assert _names(report.unchanged) == CORPUS_FILES[1:]
    after = _by_filename(kb)["monotributo.md"]
    assert after.id == before.id and after.sha256 != before.sha256
    assert counting.texts and all("Uruguay" in text for text in counting.texts)
    top = kb.search("Uruguay similar regime", k=1).hits[0]
    assert top.document.id == before.id and "Uruguay" in top.passage.text


def test_copy_under_another_name_is_a_duplicate(indexed_kb, small_corpus):
    shutil.copy(small_corpus / "pensions.pdf", small_corpus / "pensions-copy.pdf")
    report = indexed_kb.index([small_corpus])
    assert report.duplicates == {str(small_corpus / "pensions-copy.pdf"): str((small_corpus / "pensions.pdf").resolve())}
    assert report.indexed == [] and indexed_kb.stats().documents == 4


def test_corrupt_file_is_skipped_and_the_rest_indexed(fake_kb, small_corpus):
    (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n" + b"\x07" * 300)
    report = fake_kb.index([small_corpus])
    assert list(report.skipped) == [str(small_corpus / "broken.pdf")]
    assert "unreadable PDF" in report.skipped[str(small_corpus / "broken.pdf")]
    assert _names(report.indexed) == CORPUS_FILES


def test_catalog_fields_are_stored_with_the_document(fake_kb, small_corpus):
    (small_corpus / "catalog.yaml").write_text(
        "- file: pensions.pdf\n  title: Old-age pensions in China\n  type: country note\n  session: 3\n"
        "  countries: [China]\n  date: 2016-11-24\n",
        encoding="utf-8",
    )
    fake_kb.index([small_corpus])
    documents = _by_filename(fake_kb)
    pensions = documents["pensions.pdf"]
    assert (pensions.title, pensions.type) == ("Old-age pensions in China", "country note")
    assert pensions.metadata == {"title": "Old-age pensions in China", "type": "country note", "session": 3,
                                 "countries": ["China"], "date": "2016-11-24"}
    deck = documents["thailand.pptx"]
    assert (deck.title, deck.type, deck.metadata) == ("Thailand informal workers", "presentation", {})


def test_catalog_change_reindexes_the_file(indexed_kb, small_corpus):
    (small_corpus / "catalog.yaml").write_text("- file: zambia.docx\n  session: 5\n", encoding="utf-8")
    report = indexed_kb.index([small_corpus])
    assert _names(report.indexed) == ["zambia.docx"]
    assert _by_filename(indexed_kb)["zambia.docx"].metadata == {"session": 5}


def test_kbignore_patterns_are_honoured(fake_kb, small_corpus):
    (small_corpus / "drafts").mkdir()
    make_pdf(small_corpus / "drafts" / "draft.pdf", ["An unfinished draft about pensions."])
    (small_corpus / "notes").mkdir()
    (small_corpus / "notes" / "kept.md").write_text("# Kept\n\nA note in a subfolder.\n", encoding="utf-8")
    (small_corpus / ".kbignore").write_text("drafts/\n/*.md\n", encoding="utf-8")
    report = fake_kb.index([small_corpus])
    assert sorted(Path(path).relative_to(small_corpus).as_posix() for path in report.indexed) == [
        "notes/kept.md", "pensions.pdf", "thailand.pptx", "zambia.docx"]
    assert "notes/kept.md" in _by_filename(fake_kb)


def test_hidden_and_unsupported_files_are_ignored(fake_kb, small_corpus):
    (small_corpus / ".hidden.md").write_text("# Hidden\n\nNot for the index.\n", encoding="utf-8")
    (small_corpus / ".git").mkdir()
    (small_corpus / ".git" / "notes.md").write_text("# Git\n\nInternal.\n", encoding="utf-8")
    (small_corpus / "figures.xlsx").write_bytes(b"PK\x03\x04")
    report = fake_kb.index([small_corpus])
    assert _names(report.indexed) == CORPUS_FILES and report.skipped == {}


def test_a_file_named_directly_is_indexed_whatever_its_ending(fake_kb, tmp_path):
    path = tmp_path / "minutes.log"
    path.write_text("Minutes of the closing session.\nThe experts agreed on three priorities.\n", encoding="utf-8")
    report = fake_kb.index([path])
    assert report.indexed == [str(path)]
    assert _by_filename(fake_kb)["minutes.log"].title == "Minutes of the closing session."


def test_other_model_is_refused_with_rebuild_advice(indexed_kb):
    other = KnowledgeBase(indexed_kb.data_dir, embedder=CountingEmbedder(name="other-model"))
    with pytest.raises(ModelMismatch) as raised:
        other.search("pensions")
    message = raised.value.message
    assert "fake-hash-embedder" in message and "other-model" in message and "kb index --rebuild" in message


def test_rebuild_starts_a_fresh_index(indexed_kb, small_corpus):
    counting = CountingEmbedder(name="other-model")
    kb = KnowledgeBase(indexed_kb.data_dir, embedder=counting)
    report = kb.index([small_corpus], rebuild=True)
    assert _names(report.indexed) == CORPUS_FILES and report.unchanged == []
    assert len(counting.texts) == report.passages
    stats = kb.stats()
    assert (stats.model, stats.documents, stats.version) == ("other-model", 4, 4)
    assert sorted(document.id for document in kb.documents()) == [1, 2, 3, 4]


class CallCountingEmbedder(FakeEmbedder):
    """The fake embedder, remembering how many texts each call had; it fails on a call holding ``poison``."""

    def __init__(self, poison: str = ""):
        self.calls: list[int] = []
        self.poison = poison

    def encode(self, texts, batch_size: int = 32):
        self.calls.append(len(texts))
        if self.poison and any(self.poison in text for text in texts):
            raise RuntimeError("the model cannot take this text")
        return super().encode(texts, batch_size)


def _notes(folder: Path, count: int) -> Path:
    folder.mkdir()
    for number in range(count):
        (folder / f"note{number:02d}.md").write_text(f"# Note {number}\n\nSocial protection note number {number} on Zambia.\n",
                                                       encoding="utf-8")
    return folder


def test_the_passages_of_many_small_files_are_embedded_in_one_call(tmp_path):
    """A one-passage file alone would be one batch on one core: files share model calls, so every core works."""
    counting = CallCountingEmbedder()
    report = KnowledgeBase(tmp_path / "index", embedder=counting).index([_notes(tmp_path / "notes", 12)])
    assert len(report.indexed) == 12 and report.passages == 12
    assert counting.calls == [12]


def test_a_file_the_model_fails_on_is_skipped_and_the_rest_of_its_group_saved(tmp_path):
    notes = _notes(tmp_path / "notes", 5)
    (notes / "note02.md").write_text("# Odd\n\nunembeddable text\n", encoding="utf-8")
    counting = CallCountingEmbedder(poison="unembeddable")
    kb = KnowledgeBase(tmp_path / "index", embedder=counting)
    report = kb.index([notes])
    assert _names(report.indexed) == ["note00.md", "note01.md", "note03.md", "note04.md"]
    assert list(report.skipped) == [str(notes / "note02.md")] and "cannot take this text" in report.skipped[str(notes / "note02.md")]
    assert counting.calls == [5, 1, 1, 1, 1, 1], "one call for the group, then file by file"
    assert sorted(document.filename for document in kb.documents()) == _names(report.indexed)
