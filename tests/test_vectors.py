"""The FAISS index: exact search, scores of given passages, snapshots (exact, then HNSW) and their files."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

import indexer.vectors
from indexer.vectors import (VectorIndex, is_approximate, load_vector_index, max_id, new_vector_index, save_vector_index,
                             search_vectors, snapshot_index, vector_scores)

DIMENSION = 16


def _unit_vectors(count: int, seed: int = 0, dimension: int = DIMENSION) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _index(vectors: np.ndarray, first_id: int = 1):
    """An exact index of ``vectors`` with ids ``first_id``, ``first_id + 1``, …"""
    index = new_vector_index(vectors.shape[1])
    index.add_with_ids(vectors, np.arange(first_id, first_id + len(vectors), dtype=np.int64))
    return index


@pytest.fixture
def vectors() -> np.ndarray:
    return _unit_vectors(50)


def test_a_new_index_is_exact_and_empty():
    index = new_vector_index(DIMENSION)
    assert not is_approximate(index) and index.ntotal == 0 and max_id(index) == 0
    assert search_vectors(VectorIndex.of(index), _unit_vectors(1)[0], 5) == {}


def test_search_returns_the_nearest_passages_best_first_with_cosine_scores(vectors):
    index = VectorIndex.of(_index(vectors))
    query = vectors[9]
    found = search_vectors(index, query, 5)
    expected = np.argsort(-(vectors @ query))[:5] + 1
    assert list(found) == list(expected)
    assert next(iter(found)) == 10 and found[10] == pytest.approx(1.0, abs=1e-5)
    assert list(found.values()) == sorted(found.values(), reverse=True)
    for passage_id, score in found.items():
        assert score == pytest.approx(float(vectors[passage_id - 1] @ query), abs=1e-5)
    assert not index.approximate and max_id(index.faiss_index) == 50


def test_search_asks_for_no_more_than_there_is(vectors):
    index = VectorIndex.of(_index(vectors[:3]))
    assert set(search_vectors(index, vectors[0], 10)) == {1, 2, 3}
    assert search_vectors(index, vectors[0], 0) == {}


def test_search_honours_the_allowed_passages(vectors):
    index = VectorIndex.of(_index(vectors))
    allowed = np.array([4, 17, 33], dtype=np.int64)
    found = search_vectors(index, vectors[9], 10, allowed)
    assert set(found) == {4, 17, 33}
    assert list(found.values()) == sorted(found.values(), reverse=True)
    assert list(search_vectors(index, vectors[9], 1, allowed)) == [list(found)[0]]


def test_removed_passages_are_left_out_of_search_and_scores(vectors):
    index = VectorIndex.of(_index(vectors), removed=frozenset({10}))
    assert index.ntotal == 49
    assert 10 not in search_vectors(index, vectors[9], 50)
    assert vector_scores(index, vectors[9], [10, 11]).keys() == {11}


def test_vector_scores_are_cosines_of_the_given_passages_and_leave_unknown_ids_out(vectors):
    index = VectorIndex.of(_index(vectors))
    query = vectors[0]
    scores = vector_scores(index, query, [3, 999, 7])
    assert set(scores) == {3, 7}
    assert scores[3] == pytest.approx(float(vectors[2] @ query), abs=1e-5)
    assert scores[7] == pytest.approx(float(vectors[6] @ query), abs=1e-5)
    assert vector_scores(index, query, []) == {} and vector_scores(index, query, [999]) == {}


def test_a_small_snapshot_stays_exact_and_drops_removed_ids(vectors):
    index = _index(vectors)
    assert snapshot_index(index) is index  # already of the right kind, nothing removed
    snapshot = snapshot_index(index, {2, 5})
    assert not is_approximate(snapshot) and snapshot.ntotal == 48
    found = search_vectors(VectorIndex.of(snapshot), vectors[1], 48)
    assert 2 not in found and 5 not in found and len(found) == 48


def test_a_large_snapshot_is_an_hnsw_graph_close_to_exact_search(monkeypatch):
    monkeypatch.setattr(indexer.vectors, "APPROXIMATE_FROM", 300)
    stored = _unit_vectors(400, seed=1, dimension=32)
    flat = _index(stored)
    snapshot = snapshot_index(flat, {1, 2})
    assert is_approximate(snapshot) and snapshot.ntotal == 398
    approximate, exact = VectorIndex.of(snapshot), VectorIndex.of(flat, frozenset({1, 2}))
    assert approximate.approximate and not exact.approximate
    questions = _unit_vectors(50, seed=2, dimension=32)
    recall = np.mean([len(set(search_vectors(approximate, q, 10)) & set(search_vectors(exact, q, 10))) / 10 for q in questions])
    assert recall >= 0.9
    assert not {1, 2} & set(search_vectors(approximate, stored[0], 398))
    # Tuned on stored vectors, the breadth keeps a step of margin for questions, which lie farther from them:
    # with any recall good enough, the narrowest breadth tried (16) is widened once.
    monkeypatch.setattr(indexer.vectors, "TARGET_RECALL", 0.0)
    assert faiss.downcast_index(snapshot_index(flat, {1, 2}).index).hnsw.efSearch == 24
    # Below the size again, the next snapshot is exact.
    assert not is_approximate(snapshot_index(snapshot, set(range(3, 150))))


def test_a_saved_index_loads_back_the_same(tmp_path, vectors):
    path = save_vector_index(_index(vectors), tmp_path / "vectors-1.faiss")
    assert path == tmp_path / "vectors-1.faiss" and [p.name for p in tmp_path.iterdir()] == ["vectors-1.faiss"]
    loaded = load_vector_index(path)
    assert loaded.ntotal == 50 and max_id(loaded) == 50 and not is_approximate(loaded)
    assert search_vectors(VectorIndex.of(loaded), vectors[9], 5) == search_vectors(VectorIndex.of(_index(vectors)), vectors[9], 5)


def test_loading_a_missing_file_gives_none(tmp_path):
    assert load_vector_index(tmp_path / "vectors-9.faiss") is None
