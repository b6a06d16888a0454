"""The FAISS side of the index: vectors keyed by passage id, saved atomically.

SQLite holds every vector too, so the FAISS file is a snapshot of it: the
file's name carries the database version it matches (``vectors-<version>.faiss``);
a reader loads the newest snapshot and applies the changes logged since
(``snapshots.LiveVectors``). A file is written to a temporary name,
flushed to disk and renamed, so no reader ever sees half of one.

Below ``APPROXIMATE_FROM`` live vectors the search is exact (a flat
inner-product index); from that size a writer saving a snapshot builds an HNSW
graph instead, searched one step wider than recall@10 ``TARGET_RECALL`` against
exact search needs on a sample of the collection's own vectors
(``scripts/large_collection.py`` measures it on real questions). An HNSW graph
cannot drop a node, so a passage removed since the snapshot stays in it, masked
out of every search, until the next snapshot rebuilds the graph without it. A
filtered search over few passages is exact whatever the size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from .layout import temporary_path

__all__ = ["APPROXIMATE_FROM", "TARGET_RECALL", "VectorIndex", "new_vector_index", "is_approximate", "snapshot_index",
           "save_vector_index", "load_vector_index", "max_id", "search_vectors", "vector_scores"]

# One query at a time: OpenMP threads cost more to start than a flat search of this size takes.
faiss.omp_set_num_threads(1)
#: From this many live vectors a snapshot is approximate (HNSW): exact search over 50,000 vectors takes about 2 ms.
APPROXIMATE_FROM = 50_000
#: recall@10 against exact search that an approximate index is tuned to (see ``snapshot_index``).
TARGET_RECALL = 0.99
# HNSW: links per node and the breadth of the search that builds the graph. On a million synthetic passages
# (scripts/large_collection.py) 48 and 128 reached recall@10 0.99 at a search breadth of 1369 (dense 18 ms);
# 32 and 64, FAISS's usual values, needed 4096 (31 ms). The graph takes 2.4 times as long to build.
_LINKS, _EF_CONSTRUCTION = 48, 128
# The widest HNSW search tuning may choose.
_MAX_BREADTH = 4096
# Stored vectors used as questions when tuning how widely to search.
_TUNING_SAMPLE = 200
# Below this many allowed passages a filtered search scores them all directly (a graph walk could miss them).
_EXACT_FILTER_LIMIT = 20_000


@dataclass(frozen=True)
class VectorIndex:
    """A FAISS index (ids = passage ids) and the passages removed since its HNSW graph was built."""

    faiss_index: faiss.IndexIDMap2
    removed: frozenset[int] = frozenset()
    _excluded: faiss.IDSelector | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, index: faiss.IndexIDMap2, removed: frozenset[int] = frozenset()) -> VectorIndex:
        excluded = None
        if removed:  # made once per change, not per search
            inner = faiss.IDSelectorBatch(np.fromiter(removed, dtype=np.int64))
            excluded = faiss.IDSelectorNot(inner)
            excluded.referenced_objects = [inner]  # the C++ object points at it: keep it alive as long
        return cls(index, removed, excluded)

    @property
    def ntotal(self) -> int:
        """How many live passages it holds."""
        return self.faiss_index.ntotal - len(self.removed)

    @property
    def approximate(self) -> bool:
        return is_approximate(self.faiss_index)


def new_vector_index(dimension: int) -> faiss.IndexIDMap2:
    """An empty exact inner-product index whose ids are passage ids."""
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def is_approximate(index: faiss.IndexIDMap2) -> bool:
    """Whether the index is an HNSW graph (else exact)."""
    return isinstance(faiss.downcast_index(index.index), faiss.IndexHNSW)


def snapshot_index(index: faiss.IndexIDMap2, removed: frozenset[int] | set[int] = frozenset()) -> faiss.IndexIDMap2:
    """The index a snapshot should hold: without ``removed``; exact below ``APPROXIMATE_FROM`` vectors, HNSW from there.

    An index already of the right kind with nothing removed is returned as it is (adding to a graph is cheap).
    """
    live = index.ntotal - len(removed)
    if not removed and is_approximate(index) == (live >= APPROXIMATE_FROM):
        return index
    ids = faiss.vector_to_array(index.id_map)
    vectors = index.index.reconstruct_n(0, index.ntotal)
    if removed:
        keep = ~np.isin(ids, np.fromiter(removed, dtype=np.int64))
        ids, vectors = ids[keep], vectors[keep]
    if len(ids) < APPROXIMATE_FROM:
        fresh = new_vector_index(vectors.shape[1])
        fresh.add_with_ids(vectors, ids)
        return fresh
    graph = faiss.IndexHNSWFlat(vectors.shape[1], _LINKS, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = _EF_CONSTRUCTION
    fresh = faiss.IndexIDMap2(graph)
    faiss.omp_set_num_threads(min(len(os.sched_getaffinity(0)), 4))  # building the graph is worth every core
    try:
        fresh.add_with_ids(np.ascontiguousarray(vectors), ids)
        graph.hnsw.efSearch = _tuned_ef_search(fresh, vectors, ids)
    finally:
        faiss.omp_set_num_threads(1)
    return fresh


def _tuned_ef_search(index: faiss.IndexIDMap2, vectors: np.ndarray, ids: np.ndarray) -> int:
    """One step wider than the narrowest HNSW search with recall@10 ``TARGET_RECALL`` on a sample of stored vectors
    used as questions.

    A sample vector's own entry is left out of both lists (a question is not a stored passage); the breadth
    grows by half from 16 up to ``_MAX_BREADTH``. The step of margin is for real questions, which lie farther
    from the passages than passages from each other: on 100,000 passages (scripts/large_collection.py) a graph
    whose stored vectors reached 0.99 at a breadth of 121 gave the SciFact questions 0.965 there, 0.997 at 181.
    """
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(vectors), size=min(_TUNING_SAMPLE, len(vectors)), replace=False)
    sample, sample_ids = vectors[chosen], ids[chosen]
    _, positions = faiss.knn(sample, vectors, 11, metric=faiss.METRIC_INNER_PRODUCT)
    exact = [set([i for i in ids[row] if i != own][:10]) for row, own in zip(positions, sample_ids)]
    breadth = 16
    while breadth < _MAX_BREADTH:
        _, found = index.search(sample, 11, params=faiss.SearchParametersHNSW(efSearch=breadth))
        recall = np.mean([len(truth & set([i for i in row if i != own][:10])) / 10
                          for truth, row, own in zip(exact, found, sample_ids)])
        if recall >= TARGET_RECALL:
            break
        breadth = _wider(breadth)
    return _wider(breadth)


def _wider(breadth: int) -> int:
    """The next HNSW search breadth tried: half as wide again, at most ``_MAX_BREADTH``."""
    return min(int(breadth * 1.5), _MAX_BREADTH)


def save_vector_index(index: faiss.Index, target: Path) -> Path:
    """Write ``index`` to ``target`` whole (a temporary file, synced, then renamed); return ``target``."""
    temporary = temporary_path(target)
    faiss.write_index(index, str(temporary))
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    return target


def max_id(index: faiss.IndexIDMap2) -> int:
    """The largest passage id in the index (0 when empty)."""
    return int(faiss.vector_to_array(index.id_map).max()) if index.ntotal else 0


def load_vector_index(path: Path) -> faiss.Index | None:
    """The index saved at ``path``, or None when there is no such file."""
    try:
        return faiss.read_index(str(path))
    except (RuntimeError, OSError):
        # Missing, or deleted by a writer between our check and the read: the caller rebuilds.
        return None


def search_vectors(index: VectorIndex, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> dict[int, float]:
    """The ``k`` nearest passage ids to one query vector with their cosine scores, best first.

    Args:
        index: the vector index.
        query: one unit-length vector.
        k: how many passages.
        allowed: if given, only these passage ids are searched (filters apply before ranking).
    """
    if index.ntotal <= 0 or k <= 0:
        return {}
    if allowed is not None and index.approximate and len(allowed) <= _EXACT_FILTER_LIMIT:
        scores = vector_scores(index, query, [int(i) for i in allowed])
        return dict(sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k])
    selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64)) if allowed is not None else None
    if index._excluded is not None:
        selector = faiss.IDSelectorAnd(selector, index._excluded) if selector is not None else index._excluded
    if index.approximate:
        breadth = faiss.downcast_index(index.faiss_index.index).hnsw.efSearch
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(breadth, k))
    else:
        params = faiss.SearchParameters(sel=selector) if selector is not None else None
    found = index.faiss_index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, index.ntotal),
                                     params=params)
    scores, ids = found
    return {i: s for i, s in zip(ids[0].tolist(), scores[0].tolist()) if i != -1}


def vector_scores(index: VectorIndex, query: np.ndarray, ids: list[int]) -> dict[int, float]:
    """Cosine scores of given passages (their stored vectors against the query); unknown or removed ids are left out."""
    ids = [i for i in ids if i not in index.removed]
    if not ids:
        return {}
    try:
        vectors = index.faiss_index.reconstruct_batch(np.array(ids, dtype=np.int64))
        return {int(i): s for i, s in zip(ids, (vectors @ query).tolist())}
    except RuntimeError:  # one of them is not in the index (deleted since): score them one by one
        pass
    scores = {}
    for passage_id in ids:
        try:
            scores[passage_id] = float(index.faiss_index.reconstruct(int(passage_id)) @ query)
        except RuntimeError:
            continue
    return scores
