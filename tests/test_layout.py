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
