"""FAISS and keyword snapshots: saved when worth it, and every process's index follows the database between them."""

from __future__ import annotations

import threading

from pathlib import Path

import numpy as np
import pytest

import indexer.vectors
from indexer.store import Store
from indexer.vectors import search_vectors

from .conftest import FakeEmbedder, save_texts


def _snapshots(store: Store) -> list[str]:
    return sorted(path.name for path in Path(store.data_dir).glob("vectors-*.faiss"))


def test_small_changes_are_not_resaved_but_every_reader_sees_them(store):
    save_texts(store, "/docs/big.txt", [f"passage number {n}" for n in range(100)])
    assert _snapshots(store) == ["vectors-1.faiss"]
    reader = Store.open(store.data_dir)
    assert reader.vector_index().ntotal == 100

    small = save_texts(store, "/docs/small.txt", ["one more passage"])  # 1% of the index
    store.delete_document(small.id)  # a deletion outside writing(): logged, never saved
    save_texts(store, "/docs/other.txt", ["another passage", "and one more"])
    assert _snapshots(store) == ["vectors-1.faiss"]
    assert reader.vector_index().ntotal == 102
    assert Store.open(store.data_dir).vector_index().ntotal == 102 == store.counts()[1]
    reader.close()


def test_changes_over_five_percent_save_a_new_snapshot_and_drop_the_old(store):
    save_texts(store, "/docs/big.txt", [f"passage number {n}" for n in range(100)])
    save_texts(store, "/docs/small.txt", ["one", "two", "three"])
    assert _snapshots(store) == ["vectors-1.faiss"]
    save_texts(store, "/docs/more.txt", ["four", "five", "six"])  # 6 changes against 103: over 5%
    assert _snapshots(store) == ["vectors-3.faiss"]
    assert Store.open(store.data_dir).vector_index().ntotal == 106


@pytest.mark.parametrize("removed", [1, 10])
def test_a_fresh_reader_starts_from_the_snapshot_and_applies_deletions(store, removed):
    documents = [save_texts(store, f"/docs/{n}.txt", [f"text {n} a", f"text {n} b"]) for n in range(50)]
    save_texts(store, "/docs/big.txt", [f"passage number {n}" for n in range(100)])  # over 5%: saved, nothing pending
    saved = _snapshots(store)
    assert saved == [f"vectors-{store.version()}.faiss"]
    for document in documents[:removed]:
        with store.writing():
            store.delete_document(document.id)
    fresh = Store.open(store.data_dir)
    assert fresh.vector_index().ntotal == 200 - 2 * removed == fresh.counts()[1]
    # 2 passages of 200 stay in the change log; 20 pass 5% on the way, so a newer snapshot replaces the old.
    assert (_snapshots(store) == saved) == (removed == 1)


def test_past_the_exact_size_the_snapshot_is_a_graph_that_still_follows_every_write(store, monkeypatch):
    monkeypatch.setattr(indexer.vectors, "APPROXIMATE_FROM", 300)
    texts = [f"passage {n} about {topic}" for n in range(150) for topic in ("pensions", "health")]
    first = save_texts(store, "/docs/big.txt", texts)
    assert store.vector_index().approximate
    reader = Store.open(store.data_dir)
    assert reader.vector_index().approximate and reader.vector_index().ntotal == 300
    query = FakeEmbedder().encode([texts[7]])[0]
    found = search_vectors(reader.vector_index(), query, 5)
    assert found[8] == max(found.values())  # passage ids start at 1 (the fake embedder makes some ties)
    later = save_texts(store, "/docs/later.txt", ["passage about unemployment insurance"])
    newest = max(reader.passage_documents(list(range(1, 400))))
    unemployment = FakeEmbedder().encode(["passage about unemployment insurance"])[0]
    assert next(iter(search_vectors(reader.vector_index(), unemployment, 1))) == newest
    # A filter over few passages is searched exactly, whatever the graph's walk would reach.
    allowed = np.array([newest, 3, 4], dtype=np.int64)
    assert set(search_vectors(reader.vector_index(), query, 10, allowed)) == {newest, 3, 4}
    # The graph cannot drop a node: a removed passage is masked out of every search until the next snapshot.
    with store.writing():
        store.delete_document(later.id)
    assert newest not in search_vectors(reader.vector_index(), unemployment, 300)
    assert reader.vector_index().ntotal == 300
    with store.writing():
        store.delete_document(first.id)
    assert reader.vector_index().ntotal == 0 == reader.counts()[1]
    assert not Store.open(store.data_dir).vector_index().approximate  # the snapshot below the size is exact again


def test_a_change_waits_for_a_search_in_progress_and_searches_see_it_after(store):
    save_texts(store, "/notes/first.md", ["informal workers"])
    writer = threading.Thread(target=save_texts, args=(store, "/notes/second.md", ["informal pensions"]))
    with store._keywords.searching(store.connection(), store.version) as index:
        before = index.size
        writer.start()
        writer.join(timeout=0.5)  # the write commits, but the in-memory index may not change under this search
        assert writer.is_alive() and index.size == before
    writer.join(timeout=10)
    assert not writer.is_alive() and store.keyword_index().size == before + 1
