"""KnowledgeBase, the library's front door (indexing and updates are tested through it in test_updates.py)."""

from __future__ import annotations

import threading
import time

import indexer.kb as kb_module
from indexer import KnowledgeBase

from .conftest import FakeEmbedder


def test_the_model_loads_once_when_several_threads_ask_for_it_at_once(tmp_path, monkeypatch):
    loads = []

    def slow_load(name):
        loads.append(name)
        time.sleep(0.2)  # long enough for every thread to arrive while the first is loading
        return FakeEmbedder()

    monkeypatch.setattr(kb_module, "load_embedder", slow_load)
    kb = KnowledgeBase(tmp_path / "index")
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(kb.embedder)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len(seen) == 4 and all(embedder is seen[0] for embedder in seen)
