"""OCR (indexer/ocr.py): telling text from garbage, settings, and slides that are pictures, read by the real Tesseract."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from pptx import Presentation
from pptx.util import Inches

from indexer import extract
from indexer.cli import main
from indexer.errors import InvalidSetting
from indexer.ocr import OcrQueue, OcrSettings, looks_like_text

from .conftest import SCANNED_LINES, make_scan, needs_tesseract


def test_garbage_is_told_from_text():
    assert looks_like_text("Informal workers in Zambia can join the pension scheme through cooperatives.")
    assert looks_like_text("근로자 사회 보장 제도 가입 방법 안내 자료 입니다 감사 합니다")
    assert not looks_like_text("xkq zzvb qrtpl mnbv cxzl kjhg fdsq wrtp lkjh")
    assert not looks_like_text("\ufffd\ufffd\ufffd \ufffd\ufffd ab \ufffd\ufffd\ufffd")


def test_ocr_settings_come_from_the_environment():
    settings = OcrSettings.from_environ({"KB_OCR": "0", "KB_OCR_LANGUAGES": "spa", "KB_OCR_PAGE_TIMEOUT": "5"})
    assert settings == OcrSettings(enabled=False, languages="spa", page_timeout=5.0)
    assert OcrSettings.from_environ({}) == OcrSettings()


@needs_tesseract
def test_a_slide_that_is_only_a_picture_is_read_by_ocr(tmp_path):
    deck = Presentation()
    text_slide = deck.slides.add_slide(deck.slide_layouts[1])
    text_slide.shapes.title.text = "Pensions in Zambia"
    text_slide.placeholders[1].text = "A slide with its own text"
    picture_slide = deck.slides.add_slide(deck.slide_layouts[6])
    image_path = tmp_path / "scan.png"
    make_scan(SCANNED_LINES).save(image_path)
    picture_slide.shapes.add_picture(str(image_path), 0, 0, width=Inches(10), height=Inches(7.5))
    deck.save(tmp_path / "pictures.pptx")
    extracted = extract(tmp_path / "pictures.pptx", OcrSettings(languages="eng"))
    first, second = extracted.sections
    assert (first.location.slide, first.location.ocr) == (1, False)
    assert (second.location.slide, second.location.ocr) == (2, True)
    assert "pension scheme" in second.text and extracted.ocr_pages == (2,)
    without = extract(tmp_path / "pictures.pptx", OcrSettings(enabled=False))
    assert [section.location.slide for section in without.sections] == [1]


def test_pages_queue_for_single_threaded_tesseract_and_the_environment_is_restored(monkeypatch):
    import pytesseract

    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    seen = []

    def image_to_data(image, **options):
        seen.append((image, os.environ.get("OMP_THREAD_LIMIT")))
        return {"text": [f"page{image}"], "conf": ["90"], "block_num": [1], "par_num": [1], "line_num": [1]}

    monkeypatch.setattr(pytesseract, "image_to_data", image_to_data)
    with OcrQueue(OcrSettings()) as queue:
        futures = [queue.submit(number) for number in range(7)]
    assert [future.result().paragraphs for future in futures] == [(f"page{number}",) for number in range(7)]
    assert sorted(seen) == [(number, "1") for number in range(7)]
    assert "OMP_THREAD_LIMIT" not in os.environ
    monkeypatch.setenv("OMP_THREAD_LIMIT", "2")  # a limit the user set is theirs
    with OcrQueue(OcrSettings()) as queue:
        queue.submit(9).result()
    assert seen[-1] == (9, "2") and os.environ["OMP_THREAD_LIMIT"] == "2"


@pytest.mark.parametrize("name, value", [("KB_OCR", "maybe"), ("KB_OCR_PAGE_TIMEOUT", "abc"), ("KB_OCR_PAGE_TIMEOUT", "0"),
                                         ("KB_OCR_PAGE_TIMEOUT", "-5")])
def test_a_bad_ocr_setting_is_a_clear_error_naming_it(name, value):
    with pytest.raises(InvalidSetting, match=name):
        OcrSettings.from_environ({name: value})


def test_a_bad_ocr_setting_stops_the_cli_with_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("KB_OCR_PAGE_TIMEOUT", "two minutes")
    result = CliRunner().invoke(main, ["stats", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "KB_OCR_PAGE_TIMEOUT" in result.output and result.exception.__class__ is SystemExit
