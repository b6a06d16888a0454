"""KnowledgeBase, the library's front door (indexing and updates are tested through it in test_updates.py)."""

from __future__ import annotations

import threading
import time

import pytest

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


def _notes(folder, **texts):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / f"{name}.md").write_text(f"# {name}\n\n{text}\n", encoding="utf-8")
    return folder


def _titles(kb: KnowledgeBase, question: str) -> set[str]:
    return {hit.document.title for hit in kb.search(question, k=5, mode="keyword").hits}


def test_a_rebuild_is_swapped_in_whole_and_an_open_reader_follows_it(tmp_path):
    data_dir = tmp_path / "index"
    writer = KnowledgeBase(data_dir, embedder=FakeEmbedder())
    writer.index([_notes(tmp_path / "first", alpha="pensions for informal workers in Zambia")])
    reader = KnowledgeBase(data_dir, embedder=FakeEmbedder())  # a server that has the old index open
    assert _titles(reader, "pensions") == {"alpha"}
    generation = reader.store.manifest.generation

    writer.index([_notes(tmp_path / "second", beta="pensions for domestic workers in Thailand")], rebuild=True)

    assert _titles(reader, "pensions") == {"beta"}  # noticed at its next search, without a restart
    assert reader.store.manifest.generation not in ("", generation)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["first", "index", "second"]  # nothing left beside


def test_a_failed_rebuild_leaves_the_old_index_answering(tmp_path, monkeypatch):
    data_dir = tmp_path / "index"
    kb = KnowledgeBase(data_dir, embedder=FakeEmbedder())
    kb.index([_notes(tmp_path / "first", alpha="pensions for informal workers in Zambia")])

    def broken(*args, **kwargs):
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr(kb_module, "index_files", broken)
    with pytest.raises(RuntimeError, match="disk filled up"):
        kb.index([_notes(tmp_path / "second", beta="pensions in Thailand")], rebuild=True)
    assert _titles(kb, "pensions") == {"alpha"}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["first", "index", "second"]
