"""``extract()``: format detection and dispatch, and the shared real and hard documents."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from indexer import extract
from indexer.errors import CorruptDocument, EncryptedDocument, ExtractionError, NoTextFound, UnsupportedFormat

from .conftest import SHARED_DOCUMENTS, needs_shared


def test_html_is_detected_from_content_under_another_name(tmp_path):
    path = tmp_path / "saved-page.txt"
    path.write_text("<!DOCTYPE html><html><body><h1>Heading</h1><p>Body</p></body></html>", encoding="utf-8")
    assert extract(path).format == "html"


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
def test_shared_text_file_named_doc_is_read_as_text():
    extracted = extract(SHARED_DOCUMENTS / "hard/wbspcap__results.doc")
    assert (extracted.format, extracted.title) == ("text", "Correlation Regression Results")
