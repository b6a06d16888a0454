"""The index directory's layout and manifest."""

from __future__ import annotations

import json

import pytest

from indexer.errors import IndexDamaged, IndexNotBuilt, IndexOutdated
from indexer.layout import FORMAT_VERSION, IndexLayout, Manifest


def test_every_file_of_an_index_is_inside_its_directory_and_evaluation_output_beside_it(tmp_path):
    layout = IndexLayout(tmp_path / "kb")
    inside = [layout.manifest, layout.database, layout.write_lock, layout.index_report, layout.vectors_snapshot(3),
              layout.keywords_snapshot(3), layout.resolve(layout.original("ab12", ".PDF"))]
    assert all(path.parent == layout.data_dir or path.parent.parent == layout.data_dir for path in inside)
    assert layout.original("ab12", ".PDF") == "originals/ab12.pdf"
    assert layout.evaluation_dir == tmp_path / "kb.eval"


def test_snapshots_are_found_by_version_and_kind(tmp_path):
    layout = IndexLayout(tmp_path)
    layout.vectors_snapshot(2).write_bytes(b"")
    layout.vectors_snapshot(10).write_bytes(b"")
    layout.keywords_snapshot(7).mkdir()
    (tmp_path / "vectors-x.faiss").write_bytes(b"")
    assert layout.vectors_snapshots() == {2: layout.vectors_snapshot(2), 10: layout.vectors_snapshot(10)}
    assert layout.keywords_snapshots() == {7: layout.keywords_snapshot(7)}
    assert IndexLayout(tmp_path / "missing").vectors_snapshots() == {}


def test_a_written_manifest_gets_a_generation_and_reads_back(tmp_path):
    layout = IndexLayout(tmp_path)
    written = layout.write_manifest(Manifest(model="m", dimension=8))
    assert len(written.generation) == 32 and written.format_version == FORMAT_VERSION
    assert layout.read_manifest() == written
    assert layout.write_manifest(Manifest(model="m", dimension=8)).generation != written.generation
    assert not list(tmp_path.glob(".*.tmp"))


def test_reading_a_manifest_names_what_is_wrong(tmp_path):
    layout = IndexLayout(tmp_path)
    with pytest.raises(IndexNotBuilt, match="kb index"):
        layout.read_manifest()
    layout.manifest.write_text("{broken", encoding="utf-8")
    with pytest.raises(IndexDamaged, match="manifest.json is damaged"):
        layout.read_manifest()
    layout.manifest.write_text(json.dumps({"model": "m", "dimension": 8, "format_version": 1}), encoding="utf-8")
    with pytest.raises(IndexOutdated, match="--rebuild"):
        layout.read_manifest()


def test_a_writer_that_waited_through_a_swap_is_refused_not_let_into_the_retired_index(tmp_path, monkeypatch):
    from indexer import layout as layout_module
    from indexer.errors import IndexReplaced

    layout = IndexLayout(tmp_path / "kb")
    layout.data_dir.mkdir()
    real_flock = layout_module.fcntl.flock

    def flock_after_a_swap(descriptor, operation):
        # What a rebuild does while this writer waits: the directory is exchanged for a new one.
        (tmp_path / "kb").rename(tmp_path / "retired")
        (tmp_path / "kb").mkdir()
        monkeypatch.setattr(layout_module.fcntl, "flock", real_flock)
        return real_flock(descriptor, operation)

    monkeypatch.setattr(layout_module.fcntl, "flock", flock_after_a_swap)
    with pytest.raises(IndexReplaced, match="was replaced .* send it again"):
        with layout.write_locked():
            pass
    with layout.write_locked():  # the next writer locks the new index
        assert (tmp_path / "kb" / "write.lock").exists()


def test_a_change_refused_by_a_swap_is_made_once_more_on_the_new_index(indexed_kb, small_corpus, monkeypatch):
    from contextlib import contextmanager

    from indexer.errors import IndexReplaced
    from indexer.layout import IndexLayout as Layout

    real = Layout.write_locked
    refusals = []

    @contextmanager
    def replaced_once(self):
        if not refusals:
            refusals.append(True)
            raise IndexReplaced("replaced while waiting")
        with real(self):
            yield

    monkeypatch.setattr(Layout, "write_locked", replaced_once)
    document = indexed_kb.documents()[0]
    assert indexed_kb.update(document.id, {"title": "Renamed"}).title == "Renamed"
    assert refusals == [True]
