"""Near-duplicate documents: the same deck as PPTX and PDF, two versions of one brief.

Each document gets a MinHash signature (datasketch) of its word 3-shingles; two
documents whose estimated Jaccard similarity is at least ``THRESHOLD`` are near
duplicates. The store keeps signatures and pairs; search shows such documents
once, with the others as "also as …".
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["NUM_PERM", "THRESHOLD", "signature", "similar_documents"]

NUM_PERM = 128
#: Versions of one text share most 3-word shingles; different documents on one theme share a few percent.
THRESHOLD = 0.5
_WORD = re.compile(r"\w+", re.UNICODE)
_SHINGLE = 3


def signature(texts: list[str]) -> np.ndarray:
    """The MinHash signature of a document's passages.

    Args:
        texts: the passages' texts, in order (overlaps between passages do not matter: shingles are a set).

    Returns:
        ``NUM_PERM`` unsigned 64-bit hash values.
    """
    from datasketch import MinHash  # it imports scipy (0.4 s): only indexing pays for it, not searching

    words = [word.lower() for text in texts for word in _WORD.findall(text)]
    shingles = {" ".join(words[i:i + _SHINGLE]) for i in range(max(1, len(words) - _SHINGLE + 1))}
    minhash = MinHash(num_perm=NUM_PERM)
    minhash.update_batch([shingle.encode("utf-8") for shingle in shingles])
    return np.asarray(minhash.hashvalues, dtype=np.uint64)


def similar_documents(own: np.ndarray, others: dict[int, np.ndarray], threshold: float = THRESHOLD) -> dict[int, float]:
    """The documents whose signature is close to ``own``.

    Args:
        own: one document's signature.
        others: other documents' signatures, by document id.
        threshold: the lowest estimated Jaccard similarity kept.

    Returns:
        ``{document_id: similarity}`` for the near duplicates.
    """
    if not others:
        return {}
    ids = list(others)
    similarity = (np.stack([others[i] for i in ids]) == own).mean(axis=1)
    return {ids[n]: round(float(value), 3) for n, value in enumerate(similarity) if value >= threshold}
