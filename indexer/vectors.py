"""The FAISS side of the index: vectors keyed by passage id, saved atomically.

Below ``APPROXIMATE_FROM`` vectors the search is exact (a flat inner-product
index); from that size a writer saving a snapshot turns it into an inverted-file
index (IVF: the vectors grouped around 4·√n centroids), and probes as few groups
per question as reach recall@10 ``TARGET_RECALL`` against exact search on a
sample of the collection's own vectors (``scripts/large_collection.py`` measures
it on real questions).
A filtered search over few passages stays exact whatever the size.

SQLite holds every vector too, so the FAISS file is a snapshot of it: the
file's name carries the database version it matches (``vectors-<version>.faiss``);
a reader loads the newest snapshot and applies the changes logged since
(``snapshots.LiveVectors``). A file is written to a temporary name,
flushed to disk and renamed, so no reader ever sees half of one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import faiss
import numpy as np

__all__ = ["APPROXIMATE_FROM", "TARGET_RECALL", "new_vector_index", "approximate", "save_vector_index", "load_vector_index",
           "latest_snapshot", "max_id", "search_vectors", "vector_scores"]

# One query at a time: OpenMP threads cost more to start than a flat search of this size takes.
faiss.omp_set_num_threads(1)
_FILE = re.compile(r"^vectors-(\d+)\.faiss$")
#: From this many vectors a snapshot is approximate (IVF): exact search over 50,000 vectors takes about 2 ms.
APPROXIMATE_FROM = 50_000
#: recall@10 against exact search that an approximate index is tuned to (see ``approximate``).
TARGET_RECALL = 0.99
# Stored vectors used as questions when tuning how many lists to probe.
_TUNING_SAMPLE = 200
# Below this many allowed passages a filtered search scores them all directly (an IVF probe could miss them).
_EXACT_FILTER_LIMIT = 20_000


def new_vector_index(dimension: int) -> faiss.IndexIDMap2:
    """An empty exact inner-product index whose ids are passage ids."""
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def approximate(index: faiss.Index) -> faiss.Index:
    """The index as an IVF index when it holds ``APPROXIMATE_FROM`` vectors or more, else unchanged.

    Trained on an evenly spaced sample of the vectors (40 per centroid, FAISS's lower bound for a stable k-means); keeps a hash map from
    passage id to position so that passages can still be removed and their vectors read.
    """
    if isinstance(index, faiss.IndexIVF) or index.ntotal < APPROXIMATE_FROM:
        return index
    ids = faiss.vector_to_array(index.id_map)
    vectors = index.index.reconstruct_n(0, index.ntotal)
    dimension, lists = vectors.shape[1], int(4 * np.sqrt(len(ids)))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
    sample = vectors[:: max(1, len(vectors) // (40 * lists))]
    ivf.train(np.ascontiguousarray(sample))
    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
    ivf.add_with_ids(vectors, ids)
    ivf.nprobe = _tuned_nprobe(ivf, vectors, ids)
    return ivf


def _tuned_nprobe(ivf: faiss.IndexIVF, vectors: np.ndarray, ids: np.ndarray) -> int:
    """The fewest lists to probe for recall@10 ``TARGET_RECALL`` on a sample of stored vectors used as questions.

    A sample vector's exact neighbours exclude itself (a question is not a stored passage); the number of
    lists doubles from 8 until the target is met (at most every list: exact).
    """
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(vectors), size=min(_TUNING_SAMPLE, len(vectors)), replace=False)
    sample, sample_ids = vectors[chosen], ids[chosen]
    _, positions = faiss.knn(sample, vectors, 11, metric=faiss.METRIC_INNER_PRODUCT)
    exact = [set([i for i in ids[row] if i != own][:10]) for row, own in zip(positions, sample_ids)]
    nprobe = 8
    while nprobe < ivf.nlist:
        _, found = ivf.search(sample, 11, params=faiss.SearchParametersIVF(nprobe=nprobe))
        recall = np.mean([len(truth & set([i for i in row if i != own][:10])) / 10
                          for truth, row, own in zip(exact, found, sample_ids)])
        if recall >= TARGET_RECALL:
            break
        nprobe *= 2
    return min(nprobe, ivf.nlist)


def _path(data_dir: Path, version: int) -> Path:
    return data_dir / f"vectors-{version}.faiss"


def save_vector_index(index: faiss.Index, data_dir: Path, version: int) -> Path:
    """Write ``index`` as the file for database ``version`` and delete older files.

    Args:
        index: the index to save.
        data_dir: the index directory.
        version: the database version the index matches.

    Returns:
        The path written.
    """
    target = _path(data_dir, version)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    faiss.write_index(index, str(temporary))
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    for path in data_dir.iterdir():
        match = _FILE.match(path.name)
        if match and int(match.group(1)) < version:
            path.unlink(missing_ok=True)
    return target


def latest_snapshot(data_dir: Path, at_most: int) -> int | None:
    """The newest version with a saved FAISS file, not newer than ``at_most`` (None if there is none)."""
    versions = [int(m.group(1)) for path in data_dir.iterdir() if (m := _FILE.match(path.name))]
    versions = [version for version in versions if version <= at_most]
    return max(versions) if versions else None


def max_id(index: faiss.Index) -> int:
    """The largest passage id in the index (0 when empty); for an IVF index this reads every list's ids."""
    if not index.ntotal:
        return 0
    if isinstance(index, faiss.IndexIVF):
        lists = index.invlists
        return int(max(faiss.rev_swig_ptr(lists.get_ids(number), lists.list_size(number)).max()
                       for number in range(index.nlist) if lists.list_size(number)))
    return int(faiss.vector_to_array(index.id_map).max())


def load_vector_index(data_dir: Path, version: int) -> faiss.Index | None:
    """The saved index for database ``version``, or None when there is no such file."""
    path = _path(data_dir, version)
    try:
        return faiss.read_index(str(path))
    except (RuntimeError, OSError):
        # Missing, or deleted by a writer between our check and the read: the caller rebuilds.
        return None


def search_vectors(index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> dict[int, float]:
    """The ``k`` nearest passage ids to one query vector with their cosine scores, best first.

    Args:
        index: the vector index.
        query: one unit-length vector.
        k: how many passages.
        allowed: if given, only these passage ids are searched (filters apply before ranking).
    """
    if index.ntotal == 0 or k <= 0:
        return {}
    if allowed is not None and isinstance(index, faiss.IndexIVF) and len(allowed) <= _EXACT_FILTER_LIMIT:
        scores = vector_scores(index, query, [int(i) for i in allowed])
        return dict(sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k])
    params = None
    if allowed is not None:
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        params = (faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe) if isinstance(index, faiss.IndexIVF)
                  else faiss.SearchParameters(sel=selector))
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, index.ntotal), params=params)
    return {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i != -1}


def vector_scores(index: faiss.IndexIDMap2, query: np.ndarray, ids: list[int]) -> dict[int, float]:
    """Cosine scores of given passages (their stored vectors against the query); unknown ids are left out."""
    if not ids:
        return {}
    try:
        vectors = index.reconstruct_batch(np.array(ids, dtype=np.int64))
        return {int(i): float(s) for i, s in zip(ids, vectors @ query)}
    except RuntimeError:  # one of them is not in the index (deleted since): score them one by one
        pass
    scores = {}
    for passage_id in ids:
        try:
            scores[passage_id] = float(index.reconstruct(int(passage_id)) @ query)
        except RuntimeError:
            continue
    return scores
