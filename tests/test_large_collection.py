"""scripts/large_collection.py on a few hundred passages with the fake embedder: counts, resumption, report keys."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer.store import Store

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="module")
def large_collection():
    spec = importlib.util.spec_from_file_location("large_collection", ROOT / "scripts" / "large_collection.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_passages_are_real_sentences_of_the_wanted_length(large_collection):
    pool = large_collection.load_pool(None, CORPUS)
    rng = np.random.default_rng(0)
    texts = [large_collection.passage_text(pool, rng) for _ in range(200)]
    words = [len(text.split()) for text in texts]
    assert min(words) >= 100 and np.median(words) <= 200
    assert all(any(text.startswith(sentence) for sentence in pool.sentences) for text in texts[:5])
    sizes = large_collection.document_sizes(1234, seed=3)
    assert sizes.sum() == 1234 and sizes[:-1].min() >= 20 and sizes.max() <= 50


def test_drawn_vectors_are_unit_length_and_near_their_anchors(large_collection):
    real = np.random.default_rng(1).standard_normal((300, 16)).astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    for kind in ("anchored", "gaussian"):
        model = large_collection.fit_vector_model(real, kind)
        drawn = large_collection.draw_vectors(model, np.random.default_rng(2), 500)
        assert drawn.shape == (500, 16) and np.allclose(np.linalg.norm(drawn, axis=1), 1, atol=1e-5)
    nearest = (drawn @ real.T).max(axis=1)  # gaussian draws: no closer to the sample than its own neighbours
    anchored = large_collection.draw_vectors(large_collection.fit_vector_model(real, "anchored"), np.random.default_rng(2), 500)
    assert np.median((anchored @ real.T).max(axis=1)) > np.median(nearest)


def test_build_resume_and_measure(large_collection, fake_embedder, tmp_path):
    data_dir = tmp_path / "large"
    info = large_collection.build(data_dir, 300, real_sample=100, embedder=fake_embedder, scifact=None, corpus=CORPUS,
                                  progress=False)
    assert info["complete"] and info["plan"]["passages"] == 300
    store = Store.open(data_dir)
    documents, passages = store.counts()
    store.close()
    assert passages == 300 and documents == info["documents"] and 6 <= documents <= 15
    assert np.load(data_dir / large_collection.REAL_VECTORS_NAME).shape == (100, fake_embedder.dimension)
    again = large_collection.build(data_dir, 300, real_sample=100, embedder=fake_embedder, scifact=None, corpus=CORPUS,
                                   progress=False)
    assert again == info  # complete: nothing is built twice
    with pytest.raises(SystemExit):
        large_collection.build(data_dir, 400, real_sample=100, embedder=fake_embedder, scifact=None, corpus=CORPUS, progress=False)

    report = large_collection.measure(data_dir, queries=6, recall_queries=4, embedder=fake_embedder, scifact=None, corpus=CORPUS)
    assert {"passages", "documents", "disk_mb", "vector_index", "cold", "memory_mb", "latency", "dense_recall", "add_pdf",
            "machine", "build"} <= set(report)
    assert report["passages"] == 300 and report["documents"] == documents
    assert set(report["latency"]) == {"hybrid", "dense", "keyword"}
    assert 0 <= report["dense_recall"]["recall"] <= 1 and report["dense_recall"]["queries"] == 4
    assert report["add_pdf"]["pages"] == 20 and report["add_pdf"]["passages"] > 0
    assert report["memory_mb"]["peak"] >= report["memory_mb"]["warm"] > 0 and report["disk_mb"]["total"] > 0
    json.dumps(report)
    assert "recall@10" in large_collection.format_report(report)
    store = Store.open(data_dir)
    assert store.counts() == (documents, 300)  # the probe PDF was removed again
    store.close()


def test_an_interrupted_build_resumes_where_it_stopped(large_collection, fake_embedder, tmp_path, monkeypatch):
    data_dir = tmp_path / "large"
    original = large_collection.make_document

    def failing(pool, seed, number, size):
        if number == 3:  # the real sample (100 passages) lies in documents 0-2, so this is the saving loop
            raise KeyboardInterrupt
        return original(pool, seed, number, size)

    monkeypatch.setattr(large_collection, "make_document", failing)
    with pytest.raises(KeyboardInterrupt):
        large_collection.build(data_dir, 300, real_sample=100, embedder=fake_embedder, scifact=None, corpus=CORPUS, progress=False)
    store = Store.open(data_dir)
    assert store.counts()[0] == 3
    store.close()
    monkeypatch.setattr(large_collection, "make_document", original)
    info = large_collection.build(data_dir, 300, real_sample=100, embedder=fake_embedder, scifact=None, corpus=CORPUS, progress=False)
    fresh = large_collection.build(tmp_path / "fresh", 300, real_sample=100, embedder=fake_embedder, scifact=None, corpus=CORPUS,
                                   progress=False)
    texts = []
    for folder in (data_dir, tmp_path / "fresh"):
        store = Store.open(folder)
        texts.append([(row[0], row[1]) for row in store.connection().execute("SELECT text, vector FROM passages ORDER BY id")])
        store.close()
    assert info["documents"] == fresh["documents"] and texts[0] == texts[1]
