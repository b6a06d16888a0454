"""The in-memory keyword index scores exactly as FTS5's bm25() did, and follows every write."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.keyword import fts_query, keyword_search
from indexer.keyword_index import KeywordIndex, fts_tokens, load_keyword_index, save_keyword_index
from indexer.store import Store

from .conftest import save_texts

TEXTS = [
    "Informal workers in Thailand join Section 40 of the social security fund.",
    "Domestic workers rarely have written contracts; informal employment dominates.",
    "Pension coverage for informal workers remains low in Zambia and in Indonesia.",
    "The monotributo simplifies taxes and social security contributions for small contributors.",
    "Health insurance reaches informal workers through cooperatives, workers' groups and unions of workers.",
    "A short note.",
]
QUESTIONS = ["informal workers", "social security contributions", "pension coverage Zambia", "workers unions cooperatives", "note"]


def _fts5(store: Store, question: str, k: int = 20) -> dict[int, float]:
    """What the FTS5 table itself answers: bm25 with the context column weighted 0.5."""
    rows = store.connection().execute(
        "SELECT rowid, -bm25(passages_fts, 1.0, 0.5) FROM passages_fts WHERE passages_fts MATCH ? "
        "ORDER BY bm25(passages_fts, 1.0, 0.5), rowid LIMIT ?", (fts_query(question), k))
    return {int(rowid): score for rowid, score in rows}


def _assert_same_as_fts5(store: Store) -> None:
    for question in QUESTIONS:
        expected, found = _fts5(store, question), keyword_search(store.keyword_index(), question, 20, ("en",))
        assert list(found) == list(expected), question
        assert list(found.values()) == pytest.approx(list(expected.values()), rel=1e-9)


def test_scores_are_fts5_bm25_through_adds_removes_and_title_changes(store):
    first = save_texts(store, "a.md", TEXTS[:3])
    save_texts(store, "b.md", TEXTS[3:])
    _assert_same_as_fts5(store)
    store.update_fields(first.id, "Informal workers: a survey", "note", {})  # the title is the context column
    _assert_same_as_fts5(store)
    with store.writing():
        store.delete_document(first.id)
    _assert_same_as_fts5(store)
    save_texts(store, "a.md", TEXTS[:2] + ["Informal workers again, informal everywhere."])
    _assert_same_as_fts5(store)


def test_a_new_reader_loads_the_writers_snapshot_and_the_changes_since(store):
    save_texts(store, "a.md", TEXTS)
    assert any(path.name.startswith("keywords-") for path in store.data_dir.iterdir())
    later = save_texts(store, "c.md", ["Informal cooperatives of informal workers."])
    reader = Store.open(store.data_dir)
    newest = max(reader.passage_documents(list(range(1, 100))))
    assert next(iter(keyword_search(reader.keyword_index(), "informal cooperatives", 5, ("en",)))) == newest
    assert reader.keyword_index().size == len(TEXTS) + 1
    with store.writing():
        store.delete_document(later.id)
    assert reader.keyword_index().size == len(TEXTS)
    _assert_same_as_fts5(reader)


def test_a_snapshot_round_trips_without_the_dead_rows(tmp_path):
    index = KeywordIndex.build([(1, "informal worker", "note"), (2, "pension", "note"), (3, "informal pension", "")])
    index.remove([2])
    save_keyword_index(index, tmp_path / "keywords-7")
    loaded = load_keyword_index(tmp_path / "keywords-7")
    assert loaded.size == 2 and loaded.max_id() == 3
    assert loaded.search(["pension"], 5).as_dict().keys() == index.search(["pension"], 5).as_dict().keys() == {3}
    assert load_keyword_index(tmp_path / "keywords-8") is None


def test_a_filter_mask_keeps_only_the_allowed_passages():
    index = KeywordIndex.build([(passage_id, "informal worker", "") for passage_id in range(1, 6)])
    index.add([(9, "informal", "")])
    allowed = index.rows_of(np.array([2, 9, 42], dtype=np.int64))
    assert set(index.search(["informal"], 10, allowed).as_dict()) == {2, 9}


def test_ties_are_broken_by_passage_id_and_replacing_an_id_keeps_one_row():
    index = KeywordIndex.build([(5, "same words", ""), (3, "same words", "")])
    index.add([(5, "same words", "")])
    assert list(index.search(["same"], 10).ids) == [3, 5] and index.size == 2


def test_tokens_follow_fts5_unicode61():
    assert fts_tokens("Formalización del_empleo 2017") == ["formalizacion", "del", "empleo", "2017"]


def test_building_in_chunks_gives_the_index_that_adding_gives():
    rows = [(n, f"informal worker {n % 7} pension {'pension ' * (n % 3)}", "note" if n % 2 else "") for n in range(1, 60)]
    built, added = KeywordIndex.build(rows, chunk=8), KeywordIndex.empty()
    added.add(rows)
    for terms in (["informal"], ["pension", "note"], ["3", "worker"]):
        assert built.search(terms, 20).as_dict() == pytest.approx(added.search(terms, 20).as_dict())
    assert built.size == added.size == 59 and built.max_id() == 59
