"""The FAISS side of the index: vectors keyed by passage id, saved atomically.

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

__all__ = ["new_vector_index", "save_vector_index", "load_vector_index", "latest_snapshot", "max_id",
           "search_vectors", "vector_scores"]

# One query at a time: OpenMP threads cost more to start than a flat search of this size takes.
faiss.omp_set_num_threads(1)
_FILE = re.compile(r"^vectors-(\d+)\.faiss$")


def new_vector_index(dimension: int) -> faiss.IndexIDMap2:
    """An empty exact inner-product index whose ids are passage ids."""
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


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


def max_id(index: faiss.IndexIDMap2) -> int:
    """The largest passage id in the index (0 when empty)."""
    return int(faiss.vector_to_array(index.id_map).max()) if index.ntotal else 0


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
    params = None
    if allowed is not None:
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64)))
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, index.ntotal), params=params)
    return {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i != -1}


def vector_scores(index: faiss.IndexIDMap2, query: np.ndarray, ids: list[int]) -> dict[int, float]:
    """Cosine scores of given passages (their stored vectors against the query); unknown ids are left out."""
    scores = {}
    for passage_id in ids:
        try:
            scores[passage_id] = float(index.reconstruct(int(passage_id)) @ query)
        except RuntimeError:  # not in the index (deleted since)
            continue
    return scores
