"""Reading files in worker processes (indexer/extraction_pool.py): the same text, limits, and errors that come back whole."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import time
from pathlib import Path

import pytest
from fpdf import FPDF

from indexer import KnowledgeBase, errors
from indexer.errors import (CorruptDocument, ExtractionCrashed, ExtractionError, ExtractionOutOfMemory, ExtractionTimeout,
                            InvalidSetting, UnsupportedFormat)
from indexer.extract import extract
from indexer.extraction_pool import ExtractionLimits, _collect, _portable, _read, _running_pool, extract_files, extract_one
from indexer.ocr import OcrSettings

from .conftest import SCANNED_LINES, assert_error_shape, make_pdf, make_scan, needs_tesseract, upload

OCR = OcrSettings(languages="eng")
EXTRACTION_ERRORS = sorted((value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, ExtractionError)),
                           key=lambda error_class: error_class.__name__)


def _scanned_pdf(path: Path, pages: int) -> Path:
    """A PDF of ``pages`` copies of one page image without a text layer: Tesseract reads each (about 0.3 s here)."""
    pdf, scan = FPDF(), make_scan(SCANNED_LINES)
    for _ in range(pages):
        pdf.add_page()
        pdf.image(scan, x=0, y=0, w=210, h=297)
    pdf.output(str(path))
    return path


def _stuck_file(path: Path) -> Path:
    """A named pipe nobody writes to: reading it waits for ever, as a file on a hung network share does."""
    os.mkfifo(path)
    return path


def test_limits_come_from_the_environment():
    assert ExtractionLimits.from_environ({"KB_EXTRACT_SECONDS": "90", "KB_EXTRACT_MEMORY_MB": "4096"}) == ExtractionLimits(90.0, 4096)
    assert ExtractionLimits.from_environ({"KB_EXTRACT_SECONDS": " "}) == ExtractionLimits.from_environ({}) == ExtractionLimits()


@pytest.mark.parametrize("name, value", [("KB_EXTRACT_SECONDS", "soon"), ("KB_EXTRACT_SECONDS", "0"), ("KB_EXTRACT_SECONDS", "nan"),
                                         ("KB_EXTRACT_MEMORY_MB", "2GB"), ("KB_EXTRACT_MEMORY_MB", "-1"),
                                         ("KB_EXTRACT_MEMORY_MB", "1.5")])
def test_a_bad_limit_is_a_clear_error_naming_it(name, value):
    with pytest.raises(InvalidSetting, match=name):
        ExtractionLimits.from_environ({name: value})


@pytest.mark.parametrize("error_class", EXTRACTION_ERRORS, ids=lambda error_class: error_class.__name__)
def test_every_extraction_error_survives_pickling(error_class):
    error = error_class(Path("reports") / "zambia.pdf", "a reason to act on")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is error_class
    assert (copy.path, copy.reason, copy.message, str(copy), copy.code) == (
        "reports/zambia.pdf", "a reason to act on", "reports/zambia.pdf: a reason to act on", str(error), error.code)
    assert len(EXTRACTION_ERRORS) >= 8  # ExtractionError, its four format errors and the three of the pool


def test_files_read_in_workers_give_what_extract_gives(small_corpus):
    paths = sorted(small_corpus.iterdir())
    extractions = extract_files(paths, OCR, ExtractionLimits())
    assert [extraction.path for extraction in extractions] == paths
    assert [extraction.error for extraction in extractions] == [None] * 4
    assert [extraction.text for extraction in extractions] == [extract(path, OCR) for path in paths]
    assert all(0 < extraction.seconds < 60 for extraction in extractions)


def test_an_error_in_one_file_does_not_stop_the_others(tmp_path, small_corpus):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x07" * 300)
    legacy = tmp_path / "minutes.doc"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500)
    note = small_corpus / "monotributo.md"
    extractions = extract_files([broken, legacy, tmp_path / "gone.md", note], OCR, ExtractionLimits())
    assert [type(extraction.error) for extraction in extractions] == [CorruptDocument, UnsupportedFormat, FileNotFoundError, type(None)]
    assert extractions[0].error.path == str(broken) and "unreadable PDF" in extractions[0].error.reason
    assert extractions[3].text == extract(note, OCR)


def test_errors_are_sent_to_the_parent_in_a_form_it_can_unpickle(tmp_path):
    class Picky(Exception):  # like some libraries' errors: pickle cannot rebuild it from its args
        def __init__(self, code: int, detail: str):
            super().__init__(f"{detail} ({code})")

    path = tmp_path / "deck.pptx"
    sent = _portable(Picky(7, "odd chart"), path, 2048)
    assert type(sent) is RuntimeError and str(sent) == "Picky: odd chart (7)"
    assert type(pickle.loads(pickle.dumps(sent))) is RuntimeError
    for error in (MemoryError(), RuntimeError("can't start new thread")):  # what running out of address space looks like
        sent = _portable(error, path, 512)
        assert type(sent) is ExtractionOutOfMemory and "needed more than 512 MB" in sent.reason


def test_a_file_that_takes_too_long_is_refused_and_the_others_are_read(tmp_path, small_corpus):
    stuck, note = _stuck_file(tmp_path / "stuck.md"), small_corpus / "monotributo.md"
    refused, read = extract_files([stuck, note], OCR, ExtractionLimits(seconds=1))
    assert type(refused.error) is ExtractionTimeout and refused.seconds == 1
    assert str(refused.error) == f"{stuck}: took longer than 1 s to read; raise KB_EXTRACT_SECONDS or split the file"
    assert read.error is None and read.text == extract(note, OCR)


@needs_tesseract
def test_indexing_skips_a_file_over_the_time_limit_and_indexes_the_others(tmp_path, fake_embedder):
    folder = tmp_path / "documents"
    folder.mkdir()
    scan = _scanned_pdf(folder / "scan.pdf", pages=12)  # several times the limit, even on two cores at once
    (folder / "note.md").write_text("# Monotributo\n\nOne monthly payment covers tax and social security.\n", encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "data", embedder=fake_embedder, ocr=OCR, limits=ExtractionLimits(seconds=0.5))
    report = kb.index([folder])
    assert report.indexed == [str(folder / "note.md")]
    assert report.skipped == {str(scan): "took longer than 0.5 s to read; raise KB_EXTRACT_SECONDS or split the file"}
    assert [entry.seconds >= 0.5 for entry in report.files if entry.outcome == "skipped"] == [True]


@needs_tesseract
def test_a_scan_is_read_by_ocr_within_the_default_memory_limit(tmp_path):
    extracted, seconds = extract_one(_scanned_pdf(tmp_path / "scan.pdf", pages=1), OCR, ExtractionLimits())
    assert extracted.ocr_pages == (1,) and "pension scheme" in extracted.sections[0].text
    assert seconds > 0


def test_a_memory_limit_too_small_for_a_pdf_refuses_it_with_the_setting_to_raise(tmp_path, fake_embedder):
    report = make_pdf(tmp_path / "report.pdf", ["Old-age pensions in China and their coverage."] * 3)
    kb = KnowledgeBase(tmp_path / "data", embedder=fake_embedder, limits=ExtractionLimits(memory_mb=64))
    with pytest.raises(ExtractionOutOfMemory) as raised:
        kb.add(report)
    assert raised.value.message == f"{report}: needed more than 64 MB of memory to read; raise KB_EXTRACT_MEMORY_MB or split the file"
    assert kb.stats().documents == 0


def test_an_upload_over_the_memory_limit_gets_a_413_naming_the_setting(indexed_kb, make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("KB_EXTRACT_MEMORY_MB", "64")
    client = make_app(indexed_kb.data_dir).test_client()
    response = upload(client, make_pdf(tmp_path / "report.pdf", ["Old-age pensions in China and their coverage."]))
    assert_error_shape(response, 413, "extraction_out_of_memory")
    assert "needed more than 64 MB of memory to read; raise KB_EXTRACT_MEMORY_MB" in response.get_json()["error"]["message"]


def test_a_reader_that_dies_is_reported_with_its_signal(tmp_path):
    stuck, limits = _stuck_file(tmp_path / "stuck.md"), ExtractionLimits()
    with _running_pool(limits, workers=1) as pool:
        future = pool.schedule(_read, (stuck, OCR, limits), timeout=limits.seconds)
        deadline = time.monotonic() + 30
        while not future.running() and time.monotonic() < deadline:  # the worker has taken the file
            time.sleep(0.05)
        [worker] = [child for child in multiprocessing.active_children() if child.name == "pebble_pool_worker"]
        os.kill(worker.pid, signal.SIGKILL)
        died = _collect(stuck, future, limits, time.perf_counter())
    assert type(died.error) is ExtractionCrashed and died.error.path == str(stuck)
    assert died.error.reason.startswith("the reader stopped unexpectedly (signal 9, Killed): the file may be damaged")
    assert "KB_EXTRACT_MEMORY_MB" in died.error.reason
