"""The commands of indexer/cli_data.py (kb backup, restore, check, audit) through click's runner: they print what the
library reports, exit 1 when something is wrong, and turn its errors into one-line messages."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import indexer.kb
from indexer import backup_index
from indexer.audit import local_client
from indexer.cli import main


@pytest.fixture
def kb_command(monkeypatch, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)

    def invoke(*args):
        return CliRunner().invoke(main, list(map(str, args)), catch_exceptions=False)

    return invoke


def test_kb_backup_and_restore(indexed_kb, tmp_path, kb_command):
    done = kb_command("backup", tmp_path / "backup", "--data-dir", indexed_kb.data_dir)
    assert done.exit_code == 0 and "backed up 4 documents" in done.output and str(tmp_path / "backup") in done.output
    again = kb_command("backup", tmp_path / "backup", "--data-dir", indexed_kb.data_dir)
    assert again.exit_code == 1 and "already exists and is not empty" in again.output and "Traceback" not in again.output
    restored = kb_command("restore", tmp_path / "backup", "--data-dir", tmp_path / "restored")
    assert restored.exit_code == 0 and "4 documents" in restored.output and "reopen it" in restored.output
    listed = kb_command("list", "--json", "--data-dir", tmp_path / "restored", "--model", indexed_kb.model)
    assert len(json.loads(listed.output)["documents"]) == 4


def test_kb_backup_of_an_index_missing_an_original_warns_and_exits_1(indexed_kb, tmp_path, kb_command):
    document = indexed_kb.documents()[0]
    indexed_kb.layout.resolve(document.original).unlink()
    done = kb_command("backup", tmp_path / "backup", "--data-dir", indexed_kb.data_dir)
    assert done.exit_code == 1 and document.original in done.output and "kb check" in done.output


def test_kb_restore_of_a_damaged_backup_is_a_one_line_error(indexed_kb, tmp_path, kb_command):
    backup_index(indexed_kb.data_dir, tmp_path / "backup")
    (tmp_path / "backup" / "manifest.json").unlink()
    done = kb_command("restore", tmp_path / "backup", "--data-dir", indexed_kb.data_dir)
    assert done.exit_code == 1 and "not a whole backup" in done.output and "Traceback" not in done.output


def test_kb_check_prints_ok_and_exits_0(indexed_kb, kb_command):
    result = kb_command("check", "--data-dir", indexed_kb.data_dir)
    assert result.exit_code == 0 and ": ok (4 documents" in result.output


def test_kb_check_prints_each_problem_with_its_repair_and_exits_1(indexed_kb, kb_command):
    document = indexed_kb.documents()[0]
    indexed_kb.layout.resolve(document.original).unlink()
    result = kb_command("check", "--data-dir", indexed_kb.data_dir)
    assert result.exit_code == 1
    assert f"originals: the kept copy of document {document.id}" in result.output
    assert "  repair: restore the last good backup with `kb restore BACKUP`" in result.output
    assert "1 problem (" in result.output


def test_kb_check_json(indexed_kb, kb_command):
    indexed_kb.layout.resolve(indexed_kb.documents()[0].original).unlink()
    result = kb_command("check", "--json", "--data-dir", indexed_kb.data_dir)
    report = json.loads(result.output)
    assert result.exit_code == 1 and report["ok"] is False and report["documents"] == 4
    assert [set(problem) for problem in report["problems"]] == [{"kind", "message", "repair"}]


def test_the_kb_command_records_cli_and_the_user(monkeypatch, tmp_path, fake_embedder, small_corpus):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    data = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    assert runner.invoke(main, ["add", str(small_corpus / "monotributo.md"), *data]).exit_code == 0
    assert runner.invoke(main, ["remove", "42", *data]).exit_code == 1
    shown = runner.invoke(main, ["audit", "--json", *data])
    missing, added = [json.loads(line) for line in shown.output.splitlines()]
    assert added["client"] == local_client("cli") and added["client"].startswith("cli:") and added["action"] == "add"
    assert (missing["action"], missing["document_id"], missing["result"]) == ("remove", 42, "document_not_found")
    table = runner.invoke(main, ["audit", "-n", "1", *data]).output
    assert "remove" in table and "#42" in table and "document_not_found" in table and "monotributo" not in table
