"""``kb check`` (indexer/check.py): a whole index passes; each kind of damage is found, with how to repair it."""

from __future__ import annotations

import json
import sqlite3

import faiss
import numpy as np
import pytest

from indexer import CheckReport, KnowledgeBase, check_index


def kinds(report: CheckReport) -> list[str]:
    return [problem.kind for problem in report.problems]


def sql(kb: KnowledgeBase, statement: str, *args) -> None:
    """Change the index's database behind its back (the damage a test inflicts)."""
    kb.close()
    db = sqlite3.connect(kb.layout.database, isolation_level=None)
    db.execute(statement, args)
    db.close()


def test_a_whole_index_passes_with_its_counts(indexed_kb):
    report = check_index(indexed_kb.data_dir)
    assert report.ok and report.problems == ()
    documents, passages = indexed_kb.store.counts()
    assert (report.documents, report.passages, report.originals) == (documents, passages, 4)
    assert report.version == indexed_kb.stats().version
    assert report.summary().endswith(f"ok ({documents} documents, {passages} passages, 4 originals checked, version {report.version})")


def test_a_deleted_original_is_named_with_its_document(indexed_kb):
    document = indexed_kb.documents()[0]
    indexed_kb.layout.resolve(document.original).unlink()
    report = check_index(indexed_kb.data_dir)
    assert kinds(report) == ["originals"]
    problem = report.problems[0]
    assert f"document {document.id} ({document.filename})" in problem.message and "missing" in problem.message
    assert "kb restore" in problem.repair and document.filename in problem.repair


def test_a_changed_original_fails_its_sha256(indexed_kb):
    document = next(d for d in indexed_kb.documents() if d.filename == "monotributo.md")
    with open(indexed_kb.layout.resolve(document.original), "a", encoding="utf-8") as handle:
        handle.write("tampered\n")
    report = check_index(indexed_kb.data_dir)
    assert kinds(report) == ["originals"]
    assert "has changed" in report.problems[0].message and document.sha256[:12] in report.problems[0].message


def test_passages_missing_from_the_vector_snapshot_are_found(indexed_kb):
    layout = indexed_kb.layout
    (version, path), = layout.vectors_snapshots().items()
    index = faiss.read_index(str(path))
    lost = faiss.vector_to_array(index.id_map)[:2]
    index.remove_ids(np.array(lost, dtype=np.int64))
    faiss.write_index(index, str(path))
    report = check_index(indexed_kb.data_dir)
    assert kinds(report) == ["vectors"]
    assert f"2 passages have no entry in {path.name}" in report.problems[0].message
    assert f"delete {path}" in report.problems[0].repair


def test_a_passage_removed_since_the_snapshot_is_not_a_problem(indexed_kb):
    """Readers drop the passages deleted after a snapshot was saved, so the snapshot may still hold them."""
    (version, path), = indexed_kb.layout.vectors_snapshots().items()
    older = path.read_bytes()
    indexed_kb.remove(indexed_kb.documents()[0].id)
    for newer in indexed_kb.layout.vectors_snapshots().values():  # as if the remove had been too small to re-save it
        newer.unlink()
    path.write_bytes(older)
    report = check_index(indexed_kb.data_dir)
    assert report.ok, report.problems
    assert report.version > version


def test_an_unreadable_vector_snapshot_is_found(indexed_kb):
    (_, path), = indexed_kb.layout.vectors_snapshots().items()
    path.write_bytes(b"not a faiss index")
    report = check_index(indexed_kb.data_dir)
    assert kinds(report) == ["vectors"] and "cannot be read" in report.problems[0].message


def test_a_stored_vector_of_the_wrong_size_is_found(indexed_kb):
    sql(indexed_kb, "UPDATE passages SET vector = zeroblob(8) WHERE id = (SELECT min(id) FROM passages)")
    report = check_index(indexed_kb.data_dir)
    assert kinds(report) == ["vectors"] and "not 64 numbers" in report.problems[0].message
    assert "--rebuild" in report.problems[0].repair


def test_a_keyword_snapshot_of_other_passages_is_found(indexed_kb):
    (_, folder), = indexed_kb.layout.keywords_snapshots().items()
    ids = np.load(folder / "ids.npy")
    np.save(folder / "ids.npy", ids + 1000)  # every entry now names a passage that does not exist
    report = check_index(indexed_kb.data_dir)
    assert kinds(report) == ["keywords", "keywords"]
    assert f"{len(ids)} passages have no entry in {folder.name}" in report.problems[0].message
    assert f"{folder.name} holds {len(ids)} passages that are not in the database" in report.problems[1].message


def test_a_passage_without_keyword_rows_is_found(indexed_kb):
    sql(indexed_kb, "DELETE FROM passages_fts WHERE rowid = (SELECT min(id) FROM passages)")
    report = check_index(indexed_kb.data_dir)
    assert kinds(report) == ["keywords"] and "1 passages without keyword rows" in report.problems[0].message


def test_a_damaged_fts5_index_fails_its_integrity_check(indexed_kb):
    sql(indexed_kb, "UPDATE passages_fts_data SET block = zeroblob(length(block)) WHERE id > 10")
    report = check_index(indexed_kb.data_dir)
    assert "keywords" in kinds(report)
    assert any("passages_fts) is damaged" in problem.message for problem in report.problems)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_bad_sqlite_file_is_found(indexed_kb, damage):
    indexed_kb.close()
    database = indexed_kb.layout.database
    data = database.read_bytes()
    database.write_bytes(b"this is not SQLite" * 300 if damage == "garbage" else data[: len(data) // 2])
    report = check_index(indexed_kb.data_dir)
    assert "database" in kinds(report) and not report.ok
    assert any("kb restore" in problem.repair for problem in report.problems if problem.kind == "database")


def test_a_missing_database_is_found(indexed_kb):
    indexed_kb.close()
    indexed_kb.layout.database.unlink()
    report = check_index(indexed_kb.data_dir)
    assert kinds(report) == ["database"] and "is missing" in report.problems[0].message


def test_a_manifest_of_another_format_version_is_found(indexed_kb):
    manifest = json.loads(indexed_kb.layout.manifest.read_text(encoding="utf-8"))
    indexed_kb.layout.manifest.write_text(json.dumps({**manifest, "format_version": 1}), encoding="utf-8")
    report = check_index(indexed_kb.data_dir)
    assert "manifest" in kinds(report)
    problem = next(problem for problem in report.problems if problem.kind == "manifest")
    assert "format 1" in problem.message and "--rebuild" in problem.repair


def test_a_folder_without_an_index_says_how_to_make_one(tmp_path):
    report = check_index(tmp_path)
    assert kinds(report) == ["manifest", "database"]
    assert "kb index" in report.problems[0].repair and "kb restore" in report.problems[0].repair
    assert kinds(check_index(tmp_path / "nothing")) == ["manifest", "database"]


def test_check_changes_nothing(indexed_kb):
    indexed_kb.close()
    before = sorted(path.name for path in indexed_kb.data_dir.iterdir())
    database = indexed_kb.layout.database.read_bytes()
    assert check_index(indexed_kb.data_dir).ok
    assert sorted(path.name for path in indexed_kb.data_dir.iterdir()) == before
    assert indexed_kb.layout.database.read_bytes() == database
