"""The audit log (indexer/audit.py): what KnowledgeBase's adds, updates and removes record, failures too, from
every kind of client; lines from processes writing at once; and GET /api/audit, which shows it to the token holder."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import indexer.audit
from indexer import AuditEntry, DocumentNotFound, DuplicateDocument, FileMissing, InvalidField
from indexer.audit import append, local_client, read_recent

from .conftest import AUTH, assert_error_shape, upload

ROOT = Path(__file__).resolve().parents[1]


def entry(number: int, **fields) -> AuditEntry:
    return AuditEntry.now(**{"client": "127.0.0.1", "action": "add", "document_id": number, "filename": f"f{number}.pdf",
                             "sha256": "ab" * 32, **fields})


def test_entries_read_back_newest_first(tmp_path):
    log = tmp_path / "data" / "audit.log"
    assert read_recent(log, 10) == []
    written = [entry(number) for number in range(5)]
    for item in written:
        append(log, item)
    assert read_recent(log, 3) == written[::-1][:3]
    assert read_recent(log, 50) == written[::-1]
    assert read_recent(log, 0) == []
    line = json.loads(log.read_text(encoding="utf-8").splitlines()[0])
    assert line == {"time": written[0].time, "client": "127.0.0.1", "action": "add", "document_id": 0,
                    "filename": "f0.pdf", "sha256": "ab" * 32, "result": "ok"}
    assert written[0].time.endswith("Z") and written[0].time[10] == "T"  # ISO 8601, UTC


def test_the_tail_of_a_long_log_is_read_and_broken_lines_are_skipped(tmp_path):
    log = tmp_path / "audit.log"
    for number in range(3000):
        append(log, entry(number, filename="x" * (number % 97)))
    with open(log, "a", encoding="utf-8") as handle:
        handle.write('{"time": "cut short\n')
    recent = read_recent(log, 50)
    assert [item.document_id for item in recent] == list(range(2999, 2949, -1))


def test_processes_appending_at_once_never_interleave_lines(tmp_path):
    log = tmp_path / "audit.log"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from indexer.audit import AuditEntry, append
        from pathlib import Path
        for number in range(200):
            append(Path({str(log)!r}), AuditEntry.now("worker-" + sys.argv[1], "add", number, "x" * 3000, "", "ok"))
    """)
    writers = [subprocess.Popen([sys.executable, "-c", script, str(n)]) for n in range(4)]
    assert [writer.wait(timeout=120) for writer in writers] == [0] * 4
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 800
    parsed = [json.loads(line) for line in lines]
    assert {(p["client"], p["document_id"]) for p in parsed} == {(f"worker-{n}", i) for n in range(4) for i in range(200)}


def test_adds_updates_and_removes_are_recorded_with_their_client(fake_kb, tmp_path):
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nMaternity benefits for herders in Mongolia.\n")
    added = fake_kb.add(note, client="203.0.113.9")
    fake_kb.update(added.id, {"title": "Herders"}, client="203.0.113.9")
    fake_kb.remove(added.id)
    removed, updated, add = fake_kb.audit_log(10)
    assert (add.action, add.client, add.document_id, add.filename, add.result) == ("add", "203.0.113.9", added.id, "note.md", "ok")
    assert add.sha256 == hashlib.sha256(note.read_bytes()).hexdigest()
    assert (updated.action, updated.document_id, updated.sha256, updated.result) == ("update", added.id, "", "ok")
    assert (removed.action, removed.client, removed.filename) == ("remove", local_client(), "note.md")
    assert removed.client.startswith("local:")


def test_failed_changes_are_recorded_with_their_error_code(fake_kb, tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nSame words.\n")
    (tmp_path / "b.md").write_text("# A\n\nSame words.\n")
    kept = fake_kb.add(tmp_path / "a.md")
    with pytest.raises(DuplicateDocument):
        fake_kb.add(tmp_path / "b.md", client="198.51.100.7")
    with pytest.raises(FileMissing):
        fake_kb.add(tmp_path / "missing.pdf")
    with pytest.raises(InvalidField):
        fake_kb.update(kept.id, {"colour": "red"})
    with pytest.raises(DocumentNotFound):
        fake_kb.remove(999)
    gone, invalid, missing, duplicate = fake_kb.audit_log(4)
    assert (duplicate.client, duplicate.action, duplicate.document_id, duplicate.result) == ("198.51.100.7", "add", None, "duplicate_document")
    assert duplicate.filename == "b.md" and duplicate.sha256 == kept.sha256
    assert (missing.result, missing.filename, missing.sha256) == ("file_missing", "missing.pdf", "")
    assert (invalid.action, invalid.document_id, invalid.filename, invalid.result) == ("update", kept.id, "a.md", "invalid_field")
    assert (gone.action, gone.document_id, gone.filename, gone.result) == ("remove", 999, "", "document_not_found")


def test_a_log_that_cannot_be_written_does_not_fail_the_change(fake_kb, tmp_path, monkeypatch, caplog):
    def full_disk(path, entries):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(indexer.audit, "append_all", full_disk)
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nText.\n")
    with caplog.at_level(logging.ERROR):
        assert fake_kb.add(note).id
    assert "could not write to the audit log" in caplog.text


def test_index_runs_record_each_file_and_a_rebuild_keeps_the_log(fake_kb, small_corpus):
    fake_kb.index([small_corpus], client="cli:ana")
    entries = fake_kb.audit_log(50)
    assert sorted(e.filename for e in entries) == ["monotributo.md", "pensions.pdf", "thailand.pptx", "zambia.docx"]
    assert {(e.action, e.client, e.result) for e in entries} == {("index", "cli:ana", "ok")}
    fake_kb.index([small_corpus], rebuild=True, client="cli:ana")
    assert len(fake_kb.audit_log(50)) == 8  # the four of the first run are still there


# -- GET /api/audit and the admin page -----------------------------------------------------------------------------


def test_the_audit_endpoint_needs_the_token(client, make_app, indexed_kb):
    assert_error_shape(client.get("/api/audit"), 401, "unauthorized")
    assert_error_shape(make_app(indexed_kb.data_dir, KB_ADMIN_TOKEN="").test_client().get("/api/audit", headers=AUTH),
                       403, "write_api_disabled")


def test_the_audit_endpoint_shows_uploads_edits_and_refusals_with_the_client_address(client, small_corpus, tmp_path):
    added = upload(client, small_corpus / "monotributo.md", name="copy.md")
    assert added.status_code == 409
    response = client.patch("/api/documents/1", json={"title": "<b>Renamed</b>"}, headers=AUTH)
    assert response.status_code == 200
    entries = client.get("/api/audit", headers=AUTH).get_json()["entries"]
    update, refused = entries[0], entries[1]
    assert (update["action"], update["client"], update["document_id"], update["result"]) == ("update", "127.0.0.1", 1, "ok")
    assert (refused["action"], refused["client"], refused["result"]) == ("add", "127.0.0.1", "duplicate_document")
    assert refused["filename"] == "copy.md" and refused["document_id"] is None
    assert len(entries) == 6  # and the four files the fixture indexed
    assert len(client.get("/api/audit?limit=2", headers=AUTH).get_json()["entries"]) == 2


@pytest.mark.parametrize("limit", ["0", "1001", "many"])
def test_a_bad_audit_limit_is_400(client, limit):
    assert_error_shape(client.get(f"/api/audit?limit={limit}", headers=AUTH), 400, "invalid_query")


def test_the_admin_page_shows_recent_changes_through_the_api(client):
    page = client.get("/admin").get_data(as_text=True)
    assert 'id="audit"' in page and 'id="audit-load"' in page and "Recent changes" in page
    with client.get("/static/admin.js") as response:
        script = response.get_data(as_text=True)
    assert '"/api/audit?limit=50"' in script and "innerHTML" not in script
