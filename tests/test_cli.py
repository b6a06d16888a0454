"""The ``kb`` command through click's runner, with the fake embedder standing in for the model."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import indexer.kb
from indexer.catalog import CATALOG_FIELDS
from indexer.cli import main


@pytest.fixture
def run(monkeypatch, tmp_path, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    data_dir = str(tmp_path / "data")

    def invoke(*args):
        return CliRunner().invoke(main, [*args, "--data-dir", data_dir], catch_exceptions=False)

    return invoke


def test_index_reports_indexed_then_unchanged(run, small_corpus):
    first = run("index", str(small_corpus))
    assert first.exit_code == 0
    assert "4 indexed" in first.output
    second = run("index", str(small_corpus))
    assert "0 indexed" in second.output and "4 unchanged" in second.output


def test_index_names_skipped_files_and_goes_on(run, small_corpus):
    (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    (small_corpus / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    result = run("index", str(small_corpus))
    assert result.exit_code == 0
    assert "4 indexed" in result.output and "2 skipped" in result.output
    assert "broken.pdf" in result.output and "old.doc: legacy binary Office file" in result.output


def test_index_report_lists_every_file_with_its_pages_and_reasons(run, small_corpus, tmp_path):
    (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    report_path = tmp_path / "report.json"
    result = run("index", str(small_corpus), "--report", str(report_path))
    assert result.exit_code == 0 and f"report written to {report_path}" in result.output
    report = json.loads(report_path.read_text(encoding="utf-8"))
    files = {Path(entry["path"]).name: entry for entry in report["files"]}
    assert set(files) == {"broken.pdf", "monotributo.md", "pensions.pdf", "thailand.pptx", "zambia.docx"}
    assert files["pensions.pdf"] | {"seconds": 0} == files["pensions.pdf"] | {
        "outcome": "indexed", "title": "China pensions note", "format": "pdf", "pages": 2, "ocr_pages": [], "empty_pages": [],
        "reason": "", "seconds": 0}
    assert files["pensions.pdf"]["passages"] >= 2
    assert files["thailand.pptx"]["pages"] == 2
    assert files["broken.pdf"]["outcome"] == "skipped" and "unreadable PDF" in files["broken.pdf"]["reason"]
    assert report["summary"].startswith("4 indexed")
    again = run("index", str(small_corpus), "--report", str(report_path))
    assert again.exit_code == 0
    outcomes = {Path(entry["path"]).name: entry["outcome"] for entry in json.loads(report_path.read_text(encoding="utf-8"))["files"]}
    assert outcomes["pensions.pdf"] == "unchanged" and outcomes["broken.pdf"] == "skipped"


def test_a_report_in_a_missing_folder_is_a_one_line_error_before_indexing(run, small_corpus, tmp_path):
    result = run("index", str(small_corpus), "--report", str(tmp_path / "missing" / "report.json"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--report" in result.output and "does not exist" in result.output
    assert "indexed" not in result.output  # refused before anything was read


def test_search_json_has_the_api_shape(run, small_corpus):
    run("index", str(small_corpus))
    result = run("search", "Universal Coverage Scheme", "-k", "2", "--json")
    body = json.loads(result.output)
    assert body["query"] == "Universal Coverage Scheme"
    assert len(body["results"]) == 2
    assert body["results"][0]["location"] == {"slide": 2}


def test_search_text_output_cites_the_source(run, small_corpus):
    run("index", str(small_corpus))
    result = run("search", "domestic workers contracts", "-k", "1")
    assert "Zambia field research" in result.output
    assert "zambia.docx" in result.output


def test_list_and_stats_json_match_the_api(run, small_corpus):
    run("index", str(small_corpus))
    documents = json.loads(run("list", "--json").output)["documents"]
    assert len(documents) == 4 and {"id", "title", "type", "filename", "url", "passage_count"} <= set(documents[0])
    stats = json.loads(run("stats", "--json").output)
    assert stats["ok"] is True and stats["documents"] == 4


def test_errors_are_one_line_messages_not_tracebacks(run):
    result = run("search", "pensions")
    assert result.exit_code == 1
    assert result.output.startswith("Error: no index in") and "kb index" in result.output
    assert "Traceback" not in result.output


def test_empty_question_is_refused(run, small_corpus):
    run("index", str(small_corpus))
    result = run("search", "   ")
    assert result.exit_code == 1 and "question is empty" in result.output


def test_search_options_reach_the_library(run, small_corpus):
    run("index", str(small_corpus))
    body = json.loads(run("search", "workers", "--mode", "keyword", "--filter", "type=presentation", "--json").output)
    assert body["mode"] == "keyword"
    assert {r["document"]["filename"] for r in body["results"]} == {"thailand.pptx"}
    grouped = json.loads(run("search", "workers pension", "--group", "-k", "2", "--json").output)
    assert len(grouped["results"]) == 2 and "passages" in grouped["results"][0]


def test_bad_filter_syntax_and_unknown_filters_are_explained(run, small_corpus):
    run("index", str(small_corpus))
    bad = run("search", "workers", "--filter", "presentation")
    assert bad.exit_code == 2 and "is not FIELD=VALUE" in bad.output
    unknown = run("search", "workers", "--filter", "colour=red")
    assert unknown.exit_code == 1 and "valid filters: type, format" in unknown.output


def test_add_has_one_option_per_catalogue_field(run, small_corpus):
    options = {parameter.name: parameter for parameter in main.commands["add"].params if isinstance(parameter, click.Option)}
    for field in CATALOG_FIELDS:
        assert options[field.name].multiple == (field.kind == "list"), field.name
        assert field.label in options[field.name].help
    added = run("add", str(small_corpus / "monotributo.md"), "--title", "Monotributo note", "--type", "note", "--session", "2",
                "--country", "Argentina", "--lang", "es", "--date", "2017", "--speaker", "Ana", "--speaker", "Luis",
                "--organisation", "AFIP")
    assert added.exit_code == 0 and "Monotributo note" in added.output
    document = json.loads(run("list", "--json").output)["documents"][0]
    assert document["title"] == "Monotributo note" and document["type"] == "note"
    assert {"session": 2, "countries": ["Argentina"], "language": "es", "date": "2017", "speakers": ["Ana", "Luis"],
            "organisation": "AFIP"}.items() <= document["metadata"].items()


def test_search_takes_its_defaults_from_the_settings(run, small_corpus, monkeypatch):
    run("index", str(small_corpus))
    monkeypatch.setenv("KB_DEFAULT_K", "1")
    assert len(json.loads(run("search", "workers pension", "--json").output)["results"]) == 1
    monkeypatch.setenv("KB_PER_DOCUMENT", "1")
    body = json.loads(run("search", "Thailand informal workers health coverage", "-k", "4", "--json").output)
    documents = [hit["document"]["id"] for hit in body["results"]]
    assert len(documents) > 1 and len(set(documents)) == len(documents)


@pytest.mark.parametrize("arguments, environ, expected", [
    ([], {}, ["--workers", "2"]),
    (["--workers", "3", "--threads", "1"], {}, ["--workers", "3"]),
    (["--threads", "4"], {}, ["--workers", "2", "--worker-class", "gthread", "--threads", "4"]),
    ([], {"KB_THREADS": "8"}, ["--workers", "2", "--worker-class", "gthread", "--threads", "8"]),
])
def test_serve_starts_sync_or_threaded_gunicorn_workers(run, monkeypatch, arguments, environ, expected):
    for name, value in {"KB_DATA_DIR": "", "KB_MODEL": "", "KB_PRECISION": "", **environ}.items():
        monkeypatch.setenv(name, value)  # serve sets the first three for gunicorn: put back after the test
    started = []
    monkeypatch.setattr("os.execv", lambda program, command: started.append(command))
    result = run("serve", "--port", "5099", *arguments)
    assert result.exit_code == 0, result.output
    command = started[0]
    assert command[1:3] == ["-m", "gunicorn"] and command[-1] == "search_app.wsgi:app"
    assert command[command.index("--workers"):-1] == expected


def test_serve_refuses_zero_threads(run):
    result = CliRunner().invoke(main, ["serve", "--threads", "0"])
    assert result.exit_code == 2 and "--threads" in result.output
