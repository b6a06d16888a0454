"""Every extractor on small files made here, format detection, and the shared real and hard documents."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest
from pptx import Presentation
from pptx.util import Inches
from pypdf import PdfReader, PdfWriter

from indexer import extract
from indexer.errors import CorruptDocument, EncryptedDocument, ExtractionError, NoTextFound, UnsupportedFormat

from .conftest import SHARED_DOCUMENTS, make_docx, make_pdf, make_pptx, needs_shared

TOPICS = ["pensions for rural elders", "health insurance for traders", "maternity cash benefits", "employment injury cover"]


def _rewrite(source: Path, target: Path, change) -> Path:
    """Copy a PDF through pypdf's writer, letting ``change(writer)`` add labels or encryption."""
    writer = PdfWriter(clone_from=PdfReader(source))
    change(writer)
    writer.write(target)
    return target


@pytest.fixture
def four_page_pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "plain.pdf", [f"This page is about {topic}." for topic in TOPICS], title="Country note")


# -- PDF ---------------------------------------------------------------------


def test_pdf_pages_are_numbered_and_titled_from_metadata(four_page_pdf):
    extracted = extract(four_page_pdf)
    assert extracted.format == "pdf"
    assert extracted.title == "Country note"
    assert [section.location.page for section in extracted.sections] == [1, 2, 3, 4]
    assert [section.text for section in extracted.sections] == [f"This page is about {topic}." for topic in TOPICS]


def test_pdf_running_header_and_page_footer_are_removed(tmp_path):
    path = make_pdf(tmp_path / "headed.pdf", [f"This page is about {topic}." for topic in TOPICS], header="ESSA meeting 2016")
    texts = [section.text for section in extract(path).sections]
    assert texts == [f"This page is about {topic}." for topic in TOPICS]


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


# -- PPTX --------------------------------------------------------------------


def test_pptx_slides_titles_bullets_tables_and_notes(tmp_path):
    path = make_pptx(tmp_path / "deck.pptx", [
        {"title": "Informal workers", "bullets": ["Section 40", "Voluntary scheme"], "notes": "Government co-pays."},
        {"title": "Health", "bullets": ["Universal coverage"], "table": [["Scheme", "Year"], ["UCS", "2002"]]},
    ])
    extracted = extract(path)
    first, second = extracted.sections
    assert extracted.format == "pptx"
    assert extracted.title == "Informal workers"
    assert (first.location.slide, second.location.slide) == (1, 2)
    assert (first.heading, second.heading) == ("Informal workers", "Health")
    assert first.text == "Informal workers\nSection 40\nVoluntary scheme\nNotes: Government co-pays."
    assert "Scheme: UCS · Year: 2002" in second.text


def test_pptx_text_inside_grouped_shapes_is_read(tmp_path):
    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[6])  # blank layout
    group = slide.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(1), Inches(3), Inches(1)).text_frame.text = "Inside the group"
    inner = group.shapes.add_group_shape()
    inner.shapes.add_textbox(Inches(1), Inches(3), Inches(3), Inches(1)).text_frame.text = "Nested deeper"
    deck.save(tmp_path / "grouped.pptx")
    (section,) = extract(tmp_path / "grouped.pptx").sections
    assert section.text == "Inside the group\nNested deeper"
    assert section.location.slide == 1


def test_pptx_without_slides_has_no_text(tmp_path):
    Presentation().save(tmp_path / "empty.pptx")
    with pytest.raises(NoTextFound, match="empty.pptx"):
        extract(tmp_path / "empty.pptx")


def test_pptx_slide_numbers_count_slides_without_text(tmp_path):
    deck = Presentation()
    deck.slides.add_slide(deck.slide_layouts[6])
    text_slide = deck.slides.add_slide(deck.slide_layouts[1])
    text_slide.shapes.title.text = "Second slide"
    deck.save(tmp_path / "gap.pptx")
    assert [section.location.slide for section in extract(tmp_path / "gap.pptx").sections] == [2]


# -- DOCX --------------------------------------------------------------------


def test_docx_sections_follow_headings_and_tables_become_rows(tmp_path):
    path = make_docx(tmp_path / "field.docx", {
        "Construction workers": ["Builders change sites often."],
        "Domestic workers": ["Few written contracts.", [["Country", "Share"], ["Zambia", "12%"]]],
    }, title="Zambia field research")
    extracted = extract(path)
    assert extracted.format == "docx"
    assert extracted.title == "Zambia field research"
    assert [section.heading for section in extracted.sections] == ["Construction workers", "Domestic workers"]
    assert [section.location.section for section in extracted.sections] == ["Construction workers", "Domestic workers"]
    assert extracted.sections[0].text == "Construction workers\nBuilders change sites often."
    assert extracted.sections[1].text == "Domestic workers\nFew written contracts.\nCountry: Zambia · Share: 12%"


def test_docx_text_before_the_first_heading_is_its_own_section(tmp_path):
    document = docx.Document()
    document.add_paragraph("Prepared for the ESSA meeting.")
    document.add_heading("Findings", level=1)
    document.add_paragraph("Coverage is low.")
    document.save(tmp_path / "intro.docx")
    extracted = extract(tmp_path / "intro.docx")
    intro, findings = extracted.sections
    assert (intro.text, intro.heading, intro.location.section) == ("Prepared for the ESSA meeting.", "", None)
    assert (findings.text, findings.heading) == ("Findings\nCoverage is low.", "Findings")
    assert extracted.title == "Findings"  # no core title: the first heading


# -- Markdown, HTML, text ------------------------------------------------------


def test_markdown_sections_by_heading_and_title_from_first_heading(tmp_path):
    path = tmp_path / "note.md"
    path.write_text("---\nauthor: x\n---\n# Monotributo\n\nOne monthly payment.\n\n## Coverage\n\n- Health\n- Pensions\n",
                    encoding="utf-8")
    extracted = extract(path)
    assert extracted.format == "markdown"
    assert extracted.title == "Monotributo"
    assert [(section.heading, section.text) for section in extracted.sections] == [
        ("Monotributo", "Monotributo\n\nOne monthly payment."),
        ("Coverage", "Coverage\n\nHealth\n\nPensions"),
    ]
    assert extracted.sections[1].location.section == "Coverage"


def test_html_drops_scripts_and_styles_uses_title_and_decodes_entities(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<!doctype html><html><head><title>Caf&eacute; &amp; social security</title><style>p{color:red}</style></head>"
        "<body><script>var secret = 1;</script><p>Intro&nbsp;text &lt;here&gt;</p>"
        "<h2>Cambodia</h2><p>NSSF &ndash; since 2008</p><table><tr><td>a</td><td>b</td></tr></table></body></html>",
        encoding="utf-8",
    )
    extracted = extract(path)
    assert extracted.format == "html"
    assert extracted.title == "Café & social security"
    assert [(section.heading, section.text) for section in extracted.sections] == [
        ("", "Intro text <here>"),
        ("Cambodia", "Cambodia\n\nNSSF – since 2008\n\na · b"),
    ]
    assert "secret" not in str(extracted) and "color" not in str(extracted)


def test_html_is_detected_from_content_under_another_name(tmp_path):
    path = tmp_path / "saved-page.txt"
    path.write_text("<!DOCTYPE html><html><body><h1>Heading</h1><p>Body</p></body></html>", encoding="utf-8")
    assert extract(path).format == "html"


def test_plain_text_in_cp1252_is_decoded(tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes("Café costs 5 €\r\n“quoted” – done".encode("cp1252"))
    extracted = extract(path)
    assert extracted.format == "text"
    assert extracted.sections[0].text == "Café costs 5 €\n“quoted” – done"
    assert extracted.title == "Café costs 5 €"


# -- format detection ------------------------------------------------------------


def test_pdf_named_doc_is_read_as_pdf(four_page_pdf, tmp_path):
    path = tmp_path / "report.doc"
    path.write_bytes(four_page_pdf.read_bytes())
    assert extract(path).format == "pdf"


def test_legacy_ole2_doc_is_unsupported(tmp_path):
    path = tmp_path / "old.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    with pytest.raises(UnsupportedFormat, match=r"old\.doc.*legacy"):
        extract(path)


def test_binary_file_is_unsupported_whatever_its_name(tmp_path):
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(UnsupportedFormat, match="image.txt"):
        extract(path)


def test_zip_that_is_not_office_is_unsupported(tmp_path):
    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(UnsupportedFormat, match="neither a PPTX nor a DOCX"):
        extract(path)


def test_damaged_zip_is_corrupt(tmp_path):
    path = tmp_path / "broken.pptx"
    path.write_bytes(b"PK\x03\x04" + b"\x01" * 100)
    with pytest.raises(CorruptDocument, match="broken.pptx"):
        extract(path)


def test_blank_text_file_has_no_text(tmp_path):
    path = tmp_path / "blank.md"
    path.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(NoTextFound):
        extract(path)


# -- shared real and hard documents -------------------------------------------------

SHARED_FILES = sorted(
    path for folder in ("real", "hard") if (SHARED_DOCUMENTS / folder).is_dir() for path in (SHARED_DOCUMENTS / folder).iterdir()
)
SPECIFIC_ERRORS = {
    "hard/pysf__libreoffice-writer-password.pdf": EncryptedDocument,
    "hard/pypdf__crazyones-encrypted-256.pdf": EncryptedDocument,
    "hard/unstr__fake.doc": UnsupportedFormat,
    "hard/pysf__imagemagick-images.pdf": NoTextFound,
    "hard/pptxlib__no-slides.pptx": NoTextFound,
    "hard/pysf__unreadablemetadata.pdf": CorruptDocument,
}


@needs_shared
@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_shared_document_extracts_or_is_refused_with_its_name(path):
    try:
        extracted = extract(path)
    except ExtractionError as error:
        assert type(error) is not ExtractionError, "refusals use a specific subclass"
        assert path.name in str(error) and error.reason
        return
    assert extracted.sections and all(section.text.strip() for section in extracted.sections)
    assert extracted.title.strip()


@needs_shared
@pytest.mark.parametrize("name, error", sorted(SPECIFIC_ERRORS.items()), ids=lambda value: getattr(value, "__name__", value))
def test_shared_hard_document_is_refused_for_the_right_reason(name, error):
    with pytest.raises(error, match=Path(name).name):
        extract(SHARED_DOCUMENTS / name)


@needs_shared
def test_shared_deck_speaker_notes_are_read():
    (section,) = extract(SHARED_DOCUMENTS / "real/pptxlib__sld-notes.pptx").sections
    assert section.location.slide == 1
    assert section.text == "Notes: Notes"


@needs_shared
def test_shared_deck_tables_are_read_as_rows():
    sections = extract(SHARED_DOCUMENTS / "real/pptxlib__tbl-cell.pptx").sections
    assert [section.location.slide for section in sections] == [1, 2, 3]
    assert sections[2].text == "a: d · b: e · c: f\na: g · b: h · c: i"
    # The header row is written out too when a column header names no value, so no text is lost.
    assert "having custom margins · vert anchor is inherited" in sections[0].text
    assert "having custom margins: unladen swallows" in sections[0].text


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


@needs_shared
def test_shared_text_file_named_doc_is_read_as_text():
    extracted = extract(SHARED_DOCUMENTS / "hard/wbspcap__results.doc")
    assert (extracted.format, extracted.title) == ("text", "Correlation Regression Results")
