"""The index directory: SQLite rows, the FTS5 mirror, FAISS ids, versions and the manifest."""

from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from indexer.errors import DocumentNotFound, IndexDamaged, IndexNotBuilt, KBError
from indexer.keyword import fts_query
from indexer.records import Document
from indexer.layout import FORMAT_VERSION
from indexer.store import Store
from indexer.vectors import search_vectors

from .conftest import FakeEmbedder, save_texts

EMBEDDER = FakeEmbedder()


def _passage_ids(store: Store, document_id: int | None = None) -> list[int]:
    query, args = ("SELECT id FROM passages ORDER BY id", ()) if document_id is None else (
        "SELECT id FROM passages WHERE document_id = ? ORDER BY id", (document_id,))
    return [row[0] for row in store.connection().execute(query, args)]


def _fts(store: Store, word: str) -> list[int]:
    # The keyword index holds stems: match the word as keyword search does.
    return [row[0] for row in store.connection().execute("SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?", (fts_query(word),))]


def _nearest(store: Store, text: str, k: int = 10) -> dict[int, float]:
    return search_vectors(store.vector_index(), EMBEDDER.encode([text])[0], k)


def test_save_document_returns_the_stored_document_with_ids(store):
    saved = save_texts(store, "/docs/pensions.txt", ["Rural pensions in China.", "Coverage grew fast."])
    assert saved.id > 0 and saved.passage_count == 2
    assert store.document(saved.id) == saved
    stored = store.passages(_passage_ids(store, saved.id))
    assert [p.text for p in stored.values()] == ["Rural pensions in China.", "Coverage grew fast."]
    assert [p.location.page for p in stored.values()] == [1, 2]
    assert all(p.document_id == saved.id and p.id == key for key, p in stored.items())


def test_faiss_ids_are_the_sqlite_passage_ids(store):
    save_texts(store, "/docs/a.txt", ["maternity cash benefits", "employment injury insurance"])
    save_texts(store, "/docs/b.txt", ["unemployment protection for traders"])
    index = store.vector_index()
    assert sorted(faiss.vector_to_array(index.faiss_index.id_map).tolist()) == _passage_ids(store)
    for passage_id, passage in store.passages(_passage_ids(store)).items():
        assert next(iter(_nearest(store, passage.text))) == passage_id


def test_delete_removes_passages_keywords_and_vectors(store):
    kept = save_texts(store, "/docs/keep.txt", ["health insurance for farmers"])
    gone = save_texts(store, "/docs/gone.txt", ["maternity benefits for domestic workers", "maternity leave rules"])
    gone_ids = _passage_ids(store, gone.id)
    assert sorted(_fts(store, "maternity")) == gone_ids
    assert set(gone_ids) <= set(_nearest(store, "maternity benefits"))

    with store.writing():
        store.delete_document(gone.id)

    assert _passage_ids(store) == _passage_ids(store, kept.id)
    assert _fts(store, "maternity") == []
    assert _fts(store, "farmers") == _passage_ids(store, kept.id)
    assert set(_nearest(store, "maternity benefits")) == set(_passage_ids(store, kept.id))
    with pytest.raises(DocumentNotFound):
        store.document(gone.id)


def test_deleting_a_missing_document_raises(store):
    with pytest.raises(DocumentNotFound, match="42"):
        store.delete_document(42)


def test_version_increases_on_every_write(store):
    versions = [store.version()]
    first = save_texts(store, "/docs/a.txt", ["one"])
    versions.append(store.version())
    save_texts(store, "/docs/a.txt", ["one", "two"], document_id=first.id)
    versions.append(store.version())
    store.delete_document(first.id)
    versions.append(store.version())
    assert versions == [0, 1, 2, 3]


def test_writing_saves_the_vectors_file_of_the_current_version_only(store):
    save_texts(store, "/docs/a.txt", ["one"])
    save_texts(store, "/docs/b.txt", ["two"])
    assert sorted(path.name for path in store.data_dir.glob("vectors-*.faiss")) == ["vectors-2.faiss"]


def test_missing_vectors_file_is_rebuilt_from_sqlite(store):
    save_texts(store, "/docs/a.txt", ["social insurance for fishermen", "tax financed pensions"])
    for path in store.data_dir.glob("vectors-*.faiss"):
        path.unlink()
    reopened = Store.open(store.data_dir)
    index = reopened.vector_index()
    assert index.ntotal == 2
    assert next(iter(_nearest(reopened, "fishermen social insurance"))) == _passage_ids(store)[0]
    reopened.close()


def test_updated_document_keeps_its_id_and_replaces_its_passages(store):
    first = save_texts(store, "/docs/a.txt", ["old wording about pensions"])
    old_ids = _passage_ids(store, first.id)
    updated = save_texts(store, "/docs/a.txt", ["new wording about healthcare", "second part"], document_id=first.id)
    assert updated.id == first.id and updated.passage_count == 2
    assert store.counts() == (1, 2)
    assert not set(old_ids) & set(_passage_ids(store))
    assert _fts(store, "pensions") == [] and _fts(store, "healthcare") == _passage_ids(store)[:1]
    assert min(_passage_ids(store)) > max(old_ids)  # AUTOINCREMENT: ids (FAISS ids) are never reused


def test_metadata_round_trips_as_json(store):
    document = Document(id=0, path="/docs/c.txt", filename="c.txt", title="C", type="note", format="text", sha256="x",
                        size=3, indexed_at="", metadata={"session": 2, "countries": ["Thailand", "Zambia"]})
    saved = store.save_document(document, [], np.zeros((0, EMBEDDER.dimension), dtype=np.float32))
    assert saved.metadata == {"session": 2, "countries": ["Thailand", "Zambia"]}
    assert saved.indexed_at and saved.passage_count == 0


def test_open_on_an_empty_directory_says_the_index_is_not_built(tmp_path):
    with pytest.raises(IndexNotBuilt, match="kb index"):
        Store.open(tmp_path)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", json.dumps({"model": "m"})])
def test_damaged_manifest_is_reported_with_its_path(store, content):
    manifest = store.data_dir / "manifest.json"
    manifest.write_text(content, encoding="utf-8")
    with pytest.raises(IndexDamaged, match="manifest.json is damaged") as raised:
        Store.open(store.data_dir)
    assert str(manifest) in raised.value.message


def test_manifest_of_another_format_version_asks_for_a_rebuild(store):
    manifest = store.data_dir / "manifest.json"
    fields = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**fields, "format_version": 99}), encoding="utf-8")
    with pytest.raises(KBError, match="--rebuild"):
        Store.open(store.data_dir)


def test_open_reads_the_manifest_written_by_create(store):
    manifest = Store.open(store.data_dir).manifest
    assert (manifest.model, manifest.dimension, manifest.format_version) == (EMBEDDER.name, EMBEDDER.dimension, FORMAT_VERSION)
    assert manifest == store.manifest and len(manifest.generation) == 32  # a new id for each index built from nothing


def test_find_document_by_path_and_by_hash(store):
    saved = save_texts(store, "/docs/a.txt", ["text"])
    assert store.find_document(path="/docs/a.txt") == saved
    assert store.find_document(sha256=saved.sha256) == saved
    assert store.find_document(path="/docs/none.txt") is None


def test_candidates_come_from_the_store_and_a_filter_narrows_both_sides(store):
    from indexer.filters import PassageFilter

    first = save_texts(store, "/a/thailand.md", ["informal workers in Thailand", "pension reform"])
    second = save_texts(store, "/a/zambia.md", ["informal economy in Zambia"])
    with store.writing():
        store.update_fields(second.id, second.title, "report", {"countries": ["Zambia"]})
    vector = EMBEDDER.encode(["informal workers"])[0]
    assert set(store.keyword_candidates("informal", ("en",), 10)) == set(_passage_ids(store)) - {_passage_ids(store, first.id)[1]}
    assert len(store.dense_candidates(vector, 10)) == 3
    allowed = store.allowed_passages(PassageFilter.of({"country": ("zambia",)}))
    assert list(allowed) == _passage_ids(store, second.id)
    assert list(store.keyword_candidates("informal", ("en",), 10, allowed)) == _passage_ids(store, second.id)
    assert list(store.dense_candidates(vector, 10, allowed)) == _passage_ids(store, second.id)
    assert store.allowed_passages(PassageFilter.of({})) is None
    scores = store.dense_scores(vector, _passage_ids(store))
    assert scores.keys() == set(_passage_ids(store)) and all(-1.0 <= value <= 1.0 + 1e-6 for value in scores.values())
    assert store.languages() == ("en",)  # passages of unknown language are stemmed, and listed, as English


@pytest.mark.parametrize("approximate", [False, True], ids=["exact", "hnsw"])
def test_hybrid_candidates_are_both_sides_searched_in_turn_or_at_once_on_a_large_index(store, monkeypatch, approximate):
    import threading

    import indexer.store
    import indexer.vectors

    monkeypatch.setattr(indexer.vectors, "APPROXIMATE_FROM", 30 if approximate else 10_000)
    save_texts(store, "/a/many.md", [f"informal workers number {n} in province {n % 7}" for n in range(60)])
    assert store.vector_index().approximate is approximate
    threads = []

    def keyword_search(*args):
        threads.append(threading.current_thread().name)
        return real_keyword_search(*args)

    real_keyword_search = indexer.store.keyword_search
    monkeypatch.setattr(indexer.store, "keyword_search", keyword_search)
    vector = EMBEDDER.encode(["informal workers in province 3"])[0]
    both = store.hybrid_candidates(vector, "informal workers province 3", ("en",), 10, 40)
    assert both.dense == store.dense_candidates(vector, 10) and len(both.dense) == 10
    assert both.keyword == store.keyword_candidates("informal workers province 3", ("en",), 40) and len(both.keyword) == 40
    assert threads[0].startswith("kb-keywords") is approximate  # the keyword side beside the graph walk, or in turn
    allowed = np.array(_passage_ids(store)[:5], dtype=np.int64)
    narrowed = store.hybrid_candidates(vector, "informal workers province 3", ("en",), 10, 40, allowed)
    assert set(narrowed.dense) <= set(allowed.tolist()) and set(narrowed.keyword) <= set(allowed.tolist())


def test_a_failing_snapshot_does_not_hide_the_error_that_stopped_the_writer(store, monkeypatch, caplog):
    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(store._vectors, "save_if_worth_it", broken)
    with pytest.raises(ValueError, match="the writer's own error"):
        with store.writing():
            raise ValueError("the writer's own error")
    assert "could not save the index's snapshots" in caplog.text
    with pytest.raises(OSError, match="disk full"):  # after a successful write, a snapshot error is the error
        with store.writing():
            pass


@pytest.mark.parametrize("document_id", [2**63, 12404141517190387712, -(2**63) - 1])
def test_an_id_beyond_sqlite_integers_is_no_document(store, document_id):
    # Found by fuzzing the API: DELETE /api/documents/12404141517190387712 was a 500 (OverflowError binding the id).
    for read_or_write in (store.document, store.delete_document):
        with pytest.raises(DocumentNotFound, match=str(document_id)):
            read_or_write(document_id)
    with pytest.raises(DocumentNotFound):
        store.update_fields(document_id, "title", "type", {})
