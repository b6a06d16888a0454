"""PDF reading: paragraphs rebuilt from lines, reading order, titles, and OCR of scanned pages with real Tesseract."""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF
from fpdf.enums import TextMode
from PIL import Image
from pypdf import PdfReader, PdfWriter

from indexer import extract
from indexer.errors import CorruptDocument, EncryptedDocument, NoTextFound
from indexer.extract.pdf_layout import Line, drop_running_lines
from indexer.extract.titles import choose_title, meaningful_title
from indexer.ocr import OcrSettings

from .conftest import SCANNED_LINES, SHARED_DOCUMENTS, TOPICS, make_scan, needs_shared, needs_tesseract



def _pdf() -> FPDF:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.set_auto_page_break(False)
    return pdf


def _add_scanned_page(pdf: FPDF, lines: list[str], text_layer: str = "") -> None:
    pdf.add_page()
    pdf.image(make_scan(lines), x=0, y=0, w=210, h=297)
    if text_layer:  # a bad OCR layer: invisible text over the image
        pdf.text_mode = TextMode.INVISIBLE
        pdf.set_xy(10, 280)
        pdf.cell(0, 5, text_layer)
        pdf.text_mode = TextMode.FILL


def test_lines_of_a_paragraph_are_joined_and_paragraph_breaks_kept(tmp_path):
    pdf = _pdf()
    pdf.add_page()
    first = "The monotributo is a simplified regime for small taxpayers. " * 6
    second = "It replaces several taxes and contributions with one payment. " * 6
    pdf.multi_cell(120, 6, first.strip())
    pdf.ln(8)
    pdf.multi_cell(120, 6, second.strip())
    pdf.output(str(tmp_path / "paragraphs.pdf"))
    text = extract(tmp_path / "paragraphs.pdf").sections[0].text
    assert text.split("\n\n") == [first.strip(), second.strip()]


def test_hyphenation_at_line_ends_is_undone(tmp_path):
    pdf = _pdf()
    pdf.add_page()
    for line in ["Coverage of the informal economy and unemploy-", "ment insurance were discussed at the meeting."]:
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "hyphen.pdf"))
    text = extract(tmp_path / "hyphen.pdf").sections[0].text
    assert text == "Coverage of the informal economy and unemployment insurance were discussed at the meeting."


def test_two_columns_are_read_column_by_column(tmp_path):
    pdf = _pdf()
    pdf.add_page()
    left = "Left column speaks of pensions. " * 12
    right = "Right column speaks of maternity. " * 12
    pdf.set_xy(10, 20)
    pdf.multi_cell(90, 6, left.strip())
    pdf.set_xy(110, 20)
    pdf.multi_cell(90, 6, right.strip())
    pdf.output(str(tmp_path / "columns.pdf"))
    text = extract(tmp_path / "columns.pdf").sections[0].text
    assert text.index("maternity") > text.rindex("pensions")
    assert left.strip() in text and right.strip() in text


def test_title_is_the_largest_text_of_page_one_when_metadata_has_none(tmp_path):
    pdf = _pdf()
    pdf.add_page()
    pdf.set_font("Helvetica", size=24)
    pdf.cell(0, 12, "Old-age pensions in Zambia", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(0, 5, "A country note for the experts' meeting on social protection. " * 5)
    pdf.output(str(tmp_path / "untitled_note-2017.pdf"))
    assert extract(tmp_path / "untitled_note-2017.pdf").title == "Old-age pensions in Zambia"


def _lines(*texts: str) -> list[Line]:
    return [Line(text, 72, 500, 700 - 14 * n, 712 - 14 * n) for n, text in enumerate(texts)]


def test_running_headers_and_page_numbers_are_dropped():
    topics = ["pensions", "health insurance", "maternity", "employment injury", "unemployment"]
    pages = [_lines("ESSA country note", f"This page is about {topic}.", f"Page {n} of 5") for n, topic in enumerate(topics, 1)]
    kept = drop_running_lines(pages)
    assert [[line.text for line in lines] for lines in kept] == [[f"This page is about {topic}."] for topic in topics]


def test_short_documents_keep_their_lines_but_lose_page_numbers():
    pages = [_lines("Title", "Text", "- 1 -"), _lines("Title", "More", "ii")]
    assert [[line.text for line in lines] for lines in drop_running_lines(pages)] == [["Title", "Text"], ["Title", "More"]]


@pytest.mark.parametrize("junk", ["PowerPoint Presentation", "Slide 1", "Slayt 1", "A:\\4Res.icse.wpd", "5", "Microsoft Word - report.doc", "  "])
def test_placeholder_titles_give_way(junk):
    assert meaningful_title(junk) == ""
    assert choose_title(Path("zambia_informal-economy.pdf"), junk, "") == "zambia informal economy"


def test_a_real_title_is_kept():
    assert meaningful_title("Microsoft Word - Thailand sectoral schemes") == "Thailand sectoral schemes"
    assert choose_title(Path("x.pdf"), "Extending coverage in ASEAN", "Other") == "Extending coverage in ASEAN"


# -- OCR with the real Tesseract -------------------------------------------------


@needs_tesseract
def test_a_scanned_page_inside_a_text_pdf_is_read_by_ocr(tmp_path):
    pdf = _pdf()
    pdf.add_page()
    pdf.multi_cell(0, 6, "This first page has a text layer about social protection in ASEAN.")
    _add_scanned_page(pdf, SCANNED_LINES)
    pdf.output(str(tmp_path / "mixed.pdf"))
    extracted = extract(tmp_path / "mixed.pdf", OcrSettings(languages="eng"))
    first, second = extracted.sections
    assert (first.location.page, first.location.ocr) == (1, False)
    assert (second.location.page, second.location.ocr) == (2, True)
    assert "pension scheme" in second.text and "cooperatives" in second.text
    assert second.location.to_dict() == {"page": 2, "ocr": True}
    assert extracted.ocr_pages == (2,) and extracted.pages == 2


@needs_tesseract
def test_a_garbage_text_layer_is_replaced_by_ocr(tmp_path):
    pdf = _pdf()
    _add_scanned_page(pdf, SCANNED_LINES, text_layer="xkq zzvb qrtpl mnbv cxzl kjhg fdsq wrtp lkjh pqzt")
    pdf.output(str(tmp_path / "bad-layer.pdf"))
    section = extract(tmp_path / "bad-layer.pdf", OcrSettings(languages="eng")).sections[0]
    assert section.location.ocr
    assert "Zambia" in section.text and "qrtpl" not in section.text


def test_a_scan_is_refused_with_the_reason_when_ocr_is_off(tmp_path):
    pdf = _pdf()
    _add_scanned_page(pdf, SCANNED_LINES)
    pdf.output(str(tmp_path / "scan.pdf"))
    with pytest.raises(NoTextFound, match="OCR is off"):
        extract(tmp_path / "scan.pdf", OcrSettings(enabled=False))


@needs_tesseract
def test_a_blank_scan_is_refused_after_ocr(tmp_path):
    pdf = _pdf()
    pdf.add_page()
    pdf.image(Image.new("L", (850, 1100), 255), x=0, y=0, w=210, h=297)
    pdf.output(str(tmp_path / "blank.pdf"))
    with pytest.raises(NoTextFound, match="even after OCR"):
        extract(tmp_path / "blank.pdf", OcrSettings(languages="eng"))


@needs_shared
@needs_tesseract
def test_the_shared_scanned_pdf_becomes_text_with_its_page_number():
    extracted = extract(SHARED_DOCUMENTS / "hard" / "docling__ocr_test.pdf")
    assert [(section.location.page, section.location.ocr) for section in extracted.sections] == [(1, True)]
    assert "Docling" in extracted.sections[0].text


# -- read through extract() ------------------------------------------------------


def _rewrite(source: Path, target: Path, change) -> Path:
    """Copy a PDF through pypdf's writer, letting ``change(writer)`` add labels or encryption."""
    writer = PdfWriter(clone_from=PdfReader(source))
    change(writer)
    writer.write(target)
    return target


def test_pdf_pages_are_numbered_and_titled_from_metadata(four_page_pdf):
    extracted = extract(four_page_pdf)
    assert extracted.format == "pdf"
    assert extracted.title == "Country note"
    assert [section.location.page for section in extracted.sections] == [1, 2, 3, 4]
    assert [section.text for section in extracted.sections] == [f"This page is about {topic}." for topic in TOPICS]


def test_pdf_printed_page_labels_are_kept(four_page_pdf, tmp_path):
    def label(writer):
        writer.set_page_label(0, 1, style="/r", start=1)
        writer.set_page_label(2, 3, style="/D", start=1)

    path = _rewrite(four_page_pdf, tmp_path / "labelled.pdf", label)
    locations = [section.location for section in extract(path).sections]
    assert [(where.page, where.page_label) for where in locations] == [(1, "i"), (2, "ii"), (3, "1"), (4, "2")]
    assert locations[1].describe() == "p. 2 (ii)"


def test_pdf_encrypted_with_empty_user_password_is_read(four_page_pdf, tmp_path):
    path = _rewrite(four_page_pdf, tmp_path / "locked.pdf",
                    lambda writer: writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256"))
    assert PdfReader(path).is_encrypted
    assert [section.text for section in extract(path).sections] == [f"This page is about {topic}." for topic in TOPICS]


def test_pdf_with_a_user_password_is_refused(four_page_pdf, tmp_path):
    path = _rewrite(four_page_pdf, tmp_path / "secret.pdf",
                    lambda writer: writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256"))
    with pytest.raises(EncryptedDocument, match="secret.pdf"):
        extract(path)


@pytest.mark.parametrize("cut", [40, 0.5, -200])
def test_truncated_pdf_is_corrupt(four_page_pdf, tmp_path, cut):
    raw = four_page_pdf.read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(raw[: int(len(raw) * cut) if isinstance(cut, float) else cut])
    with pytest.raises(CorruptDocument, match="truncated.pdf"):
        extract(path)


def test_garbage_after_pdf_magic_is_corrupt(tmp_path):
    path = tmp_path / "garbage.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    with pytest.raises(CorruptDocument):
        extract(path)


@needs_shared
def test_shared_pdf_pages_are_numbered_in_order():
    path = SHARED_DOCUMENTS / "real/gld__THA_LFS_methodology.pdf"
    sections = extract(path).sections
    assert [section.location.page for section in sections] == list(range(1, len(PdfReader(path).pages) + 1))
    # Lines of one paragraph are joined; paragraphs are kept apart.
    assert sections[0].text.startswith("APPENDIX A METHODOLOGY\n\n1. Sample design\n\nA Stratified Two-Stage Sampling was adopted")


@needs_shared
def test_shared_pdf_with_empty_user_password_is_read():
    extracted = extract(SHARED_DOCUMENTS / "hard/gld__Central-Local-Rel-THA.pdf")
    assert extracted.title == "Central-Local Government Relationship in Thailand"
    assert len(extracted.sections) == 30


@needs_shared
def test_shared_broken_958_byte_pdf_does_not_crash():
    extracted = extract(SHARED_DOCUMENTS / "hard/pypdf__issue-297.pdf")
    assert [(section.location.page, section.text) for section in extracted.sections] == [(1, "test example")]
