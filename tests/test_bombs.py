"""Hostile files: compression bombs (a DOCX, a PDF) and a PDF whose page tree loops are refused quickly with a
clear reason naming the file, and nothing indexed is lost.

The bombs are made here and stay small on disk: after a full flush deflate starts afresh, so 16 MiB of one byte
compress to the same 16 KB block every time, and a gigabyte is that block written 64 times (about 1 MB).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from PIL import Image
from pptx import Presentation
from pptx.util import Inches

from indexer import (CorruptDocument, ExpansionTooLarge, ExtractionCrashed, ExtractionOutOfMemory, KnowledgeBase,
                     NoTextFound, extract)
from indexer.extract import ExpansionLimits
from indexer.extraction_pool import ExtractionLimits
from indexer.ocr import OcrSettings

from .conftest import assert_error_shape, make_docx, needs_tesseract, rewrite_zip, upload

BLOCK = 2**24  # 16 MiB
GIB = 2**30
OCR_OFF = OcrSettings(enabled=False)
#: Limits far below the defaults, so that a bomb of 64 MiB is one.
SMALL = ExpansionLimits(expanded_mb=16)


@dataclass(frozen=True)
class Deflated:
    """A raw deflate stream and what it inflates to: its length and checksum."""

    data: bytes
    size: int
    checksum: int


def deflated(head: bytes, size: int, tail: bytes = b"", filler: bytes = b"\0",
             checksum: Callable[[bytes, int], int] = zlib.crc32) -> Deflated:
    """``head``, ``size`` (a multiple of 16 MiB) bytes of ``filler``, then ``tail``, deflated without deflating
    the filler more than once; the checksum (CRC-32 for a ZIP, Adler-32 for zlib) is computed over it all."""
    compressor, blocks, chunk = zlib.compressobj(9, zlib.DEFLATED, -15), size // BLOCK, filler * BLOCK
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH) if blocks else b""
    end = compressor.compress(tail) + compressor.flush()
    total = checksum(head, 1 if checksum is zlib.adler32 else 0)  # each checksum's starting value
    for _ in range(blocks):
        total = checksum(chunk, total)
    return Deflated(start + block * blocks + end, len(head) + blocks * BLOCK + len(tail), checksum(tail, total))


def zlib_stream(inflated: Deflated) -> bytes:
    """A raw deflate stream (with an Adler-32 checksum) in zlib's wrapping, as a PDF's FlateDecode wants it."""
    return b"\x78\xda" + inflated.data + inflated.checksum.to_bytes(4, "big")


# -- ZIP containers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One ZIP entry: its raw-deflated data and the size and CRC its headers declare."""

    name: str
    data: bytes
    size: int
    crc: int


def write_zip(path: Path, members: list[Member]) -> Path:
    """A ZIP file of already deflated members, written by hand (zipfile would deflate the gigabyte itself)."""
    out, directory = bytearray(), bytearray()
    for entry in members:
        name, offset = entry.name.encode(), len(out)
        fields = (8, 0, 33, entry.crc, len(entry.data), entry.size, len(name))  # deflated, 1 Jan 1980
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, *fields, 0) + name + entry.data
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, *fields, 0, 0, 0, 0, 0, offset) + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), len(out), 0)
    path.write_bytes(bytes(out + directory + end))
    return path


def docx_bomb(path: Path, size: int = GIB, declared: int | None = None) -> Path:
    """A valid DOCX whose ``word/document.xml`` holds ``size`` bytes of spaces before ``</w:body>``.

    Args:
        declared: the size its headers give the part, when they lie (default: the true size).
    """
    make_docx(path, {"Pension reform": ["The contributory pension scheme covers farmers in the highlands."]})
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    members = [Member(name, part.data, part.size, part.checksum)
               for name, part in ((name, deflated(content, 0)) for name, content in parts.items())]
    head, tail = parts["word/document.xml"].rsplit(b"</w:body>", 1)
    body = deflated(head, size, b"</w:body>" + tail, filler=b" ")
    bomb = Member("word/document.xml", body.data, body.size if declared is None else declared, body.checksum)
    return write_zip(path, [bomb if entry.name == bomb.name else entry for entry in members])


def test_the_bomb_builder_makes_a_valid_docx_that_inflates_to_what_it_declares(tmp_path):
    path = docx_bomb(tmp_path / "small.docx", size=2 * BLOCK)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every part inflates to its declared size and CRC
        body = archive.read("word/document.xml")
    assert body.endswith(b">" + b" " * 2 * BLOCK + b"</w:body></w:document>")
    # Read within the limits, it is refused by lxml, which takes no text node over 10 MB (``huge_tree=False``).
    with pytest.raises(CorruptDocument, match="Text node too long"):
        extract(path, expansion=ExpansionLimits(expanded_mb=64, ratio=2000))


def test_a_zip_bomb_docx_is_refused_before_it_is_opened(tmp_path):
    path = docx_bomb(tmp_path / "bomb.docx")
    assert path.stat().st_size < 2**21  # 1 GiB inflated, under 2 MB on disk
    with pytest.raises(ExpansionTooLarge) as refused:
        extract(path)  # the default limits
    assert re.fullmatch(
        rf"{re.escape(str(path))}: would expand past 500 MB \(KB_EXTRACT_MAX_EXPANDED_MB\): its parts declare 1,02\d MB; "
        r"a compression bomb, or a file too large to read; if the file is genuine, raise KB_EXTRACT_MAX_EXPANDED_MB or "
        r"split the file", refused.value.message)
    assert (refused.value.code, refused.value.status) == ("expansion_too_large", 413)


def test_a_part_that_expands_too_many_times_is_refused_under_the_total(tmp_path):
    path = docx_bomb(tmp_path / "dense.docx", size=4 * BLOCK)
    with pytest.raises(ExpansionTooLarge, match=r"its part word/document\.xml would expand [\d,]+ times \(to 64 MB\), "
                                                r"more than KB_EXTRACT_MAX_RATIO \(100\)"):
        extract(path)  # 64 MB is under the 500 MB total; ~1,000 times is not a ratio of a real part


def test_a_container_with_too_many_parts_is_refused(tmp_path):
    path = make_docx(tmp_path / "report.docx", {"Pensions": ["Coverage of farmers."]})
    with zipfile.ZipFile(path) as archive:
        count = len(archive.namelist())
    with pytest.raises(ExpansionTooLarge, match=rf"holds {count} parts, more than KB_EXTRACT_MAX_PARTS \(5\)"):
        extract(path, expansion=ExpansionLimits(parts=5))
    assert extract(path, expansion=ExpansionLimits(parts=count)).sections


def test_a_header_that_lies_about_a_part_size_is_caught_by_zipfile(tmp_path):
    # The check trusts the sizes the container declares; a part holding more than its header says is not
    # measured, but zipfile stops it at the declared size and refuses it (a CRC mismatch): the file is refused
    # as damaged. Inflating it once still takes its true size in memory, which the worker's memory limit bounds
    # (next test). Comparing declared and true sizes beforehand would inflate every part twice: not done.
    path = docx_bomb(tmp_path / "liar.docx", size=4 * BLOCK, declared=4096)
    with pytest.raises(CorruptDocument, match=r"damaged DOCX \(BadZipFile: Bad CRC-32"):
        extract(path, expansion=SMALL)


def test_a_lying_header_bomb_is_stopped_by_the_worker_memory_limit(tmp_path, fake_embedder):
    path = docx_bomb(tmp_path / "liar.docx", size=2 * GIB, declared=4096)
    kb = KnowledgeBase(tmp_path / "data", embedder=fake_embedder, ocr=OCR_OFF, limits=ExtractionLimits(memory_mb=1024))
    with pytest.raises(ExtractionOutOfMemory) as refused:
        kb.add(path)
    assert refused.value.message == (f"{path}: needed more than 1024 MB of memory to read; raise KB_EXTRACT_MEMORY_MB "
                                      "or split the file")


# -- PDFs -------------------------------------------------------------------------------------------

FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
TEXT = b"BT /F1 12 Tf 72 720 Td (Pensions for farmers in the highlands) Tj ET"
PAGE = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
        b"/Contents [4 0 R 5 0 R] >>")


def stream(data: bytes, filters: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), filters, data)


def write_pdf(path: Path, objects: list[bytes]) -> Path:
    """A PDF of these objects (numbered from 1, the first the catalogue), with a correct cross-reference table."""
    out, offsets = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    table = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, table)
    path.write_bytes(bytes(out))
    return path


def pdf_with_content(path: Path, content: bytes) -> Path:
    """A one-page PDF whose page draws ``content`` (a stream object), then a line of text."""
    return write_pdf(path, [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>", FONT,
                            content, stream(TEXT), PAGE])


def pdf_bomb(path: Path, size: int = GIB) -> Path:
    """A PDF whose first content stream inflates to ``size`` NUL bytes (white space to a PDF)."""
    zeros = deflated(b"", size, checksum=zlib.adler32)
    return pdf_with_content(path, stream(zlib_stream(zeros), b"/Filter /FlateDecode"))


def looping_pdf(path: Path) -> Path:
    """A PDF whose page tree loops: the root's first kid is a page-tree node whose only kid is the root."""
    return write_pdf(path, [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [7 0 R 6 0 R] /Count 2 >>",
                            FONT, stream(b""), stream(TEXT), PAGE, b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>"])


def test_the_pdf_builder_makes_a_pdf_that_pdfium_reads(tmp_path):
    path = pdf_bomb(tmp_path / "fine.pdf", size=BLOCK)
    assert zlib.decompress(zlib_stream(deflated(b"", BLOCK, checksum=zlib.adler32))) == bytes(BLOCK)
    extracted = extract(path, OCR_OFF, expansion=ExpansionLimits(expanded_mb=17))  # 16 MiB: within the limit
    assert extracted.sections[0].text == "Pensions for farmers in the highlands"


def test_a_deflate_bomb_pdf_is_refused_before_pdfium_reads_it(tmp_path):
    path = pdf_bomb(tmp_path / "bomb.pdf")
    assert path.stat().st_size < 2**21
    with pytest.raises(ExpansionTooLarge) as refused:
        extract(path, OCR_OFF)  # the default limits: 500 MB inflated (and thrown away) before it is refused
    assert refused.value.message.startswith(f"{path}: a compressed stream (at byte ")
    assert refused.value.reason.endswith(
        "would expand past 500 MB (KB_EXTRACT_MAX_EXPANDED_MB): a compression bomb, or a file too large to read; "
        "if the file is genuine, raise KB_EXTRACT_MAX_EXPANDED_MB or split the file")


def test_a_page_tree_that_loops_is_refused_as_damaged(tmp_path):
    path = looping_pdf(tmp_path / "loop.pdf")
    with pytest.raises(CorruptDocument) as refused:
        extract(path, OCR_OFF)
    assert refused.value.message == (
        f"{path}: none of its 2 pages can be loaded: its page tree is broken (it loops back on itself, or points at "
        "objects that are no pages); re-export or repair it")


@pytest.mark.slow  # a worker inflates until its memory runs out (a few seconds)
def test_a_bomb_the_check_cannot_see_is_stopped_by_the_memory_limit(tmp_path, fake_embedder):
    # Behind an ASCIIHex filter the Flate data is not found by the check; PDFium inflates it until the worker's
    # memory limit stops it. PDFium aborts when an allocation fails, so the worker dies and the reason names both
    # a damaged file and the memory setting.
    hexed = zlib_stream(deflated(b"", 2 * GIB, checksum=zlib.adler32)).hex().encode() + b">"
    path = pdf_with_content(tmp_path / "hidden.pdf", stream(hexed, b"/Filter [/ASCIIHexDecode /FlateDecode]"))
    kb = KnowledgeBase(tmp_path / "data", embedder=fake_embedder, ocr=OCR_OFF, limits=ExtractionLimits(memory_mb=1024))
    with pytest.raises((ExtractionCrashed, ExtractionOutOfMemory)) as refused:
        kb.add(path)
    assert refused.value.path == str(path) and "1024 MB" in refused.value.reason
    assert "KB_EXTRACT_MEMORY_MB" in refused.value.reason


# -- nothing indexed is lost ------------------------------------------------------------------------

BOMBS = {
    "bomb.docx": (lambda path: docx_bomb(path, size=4 * BLOCK), ExpansionTooLarge, "would expand past 16 MB"),
    "bomb.pdf": (lambda path: pdf_bomb(path, size=4 * BLOCK), ExpansionTooLarge, "would expand past 16 MB"),
    "loop.pdf": (looping_pdf, CorruptDocument, "its page tree is broken"),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_refused_bomb_leaves_the_index_as_it_was(tmp_path, fake_embedder, small_corpus, name):
    make, error, reason = BOMBS[name]
    kb = KnowledgeBase(tmp_path / "data", embedder=fake_embedder, ocr=OCR_OFF,
                       limits=ExtractionLimits(expansion=SMALL))
    kb.index([small_corpus])
    before = kb.search("rural pension scheme China", k=3).hits[0].document
    originals = sorted((kb.data_dir / "originals").iterdir())
    with pytest.raises(error) as refused:
        kb.add(make(tmp_path / name))
    assert refused.value.path == str(tmp_path / name) and reason in refused.value.reason
    assert kb.stats().documents == 4
    assert kb.search("rural pension scheme China", k=3).hits[0].document == before
    assert sorted((kb.data_dir / "originals").iterdir()) == originals


@pytest.mark.parametrize("name, status, code, reason", [
    ("bomb.docx", 413, "expansion_too_large", "would expand past 16 MB (KB_EXTRACT_MAX_EXPANDED_MB)"),
    ("bomb.pdf", 413, "expansion_too_large", "would expand past 16 MB (KB_EXTRACT_MAX_EXPANDED_MB)"),
    ("loop.pdf", 422, "corrupt_document", "its page tree is broken"),
])
def test_an_uploaded_bomb_gets_an_error_naming_it_and_the_server_answers_on(indexed_kb, make_app, tmp_path, monkeypatch,
                                                                             name, status, code, reason):
    # A small limit keeps the upload under 500 KB: Flask's test client leaves a larger request body's spool file open.
    monkeypatch.setenv("KB_EXTRACT_MAX_EXPANDED_MB", "16")
    client = make_app(indexed_kb.data_dir).test_client()
    response = upload(client, BOMBS[name][0](tmp_path / name), name=f"quarterly-{name}")
    assert_error_shape(response, status, code)
    message = response.get_json()["error"]["message"]
    assert message.startswith(f"quarterly-{name}: ") and reason in message
    assert str(tmp_path) not in message and "kb-upload-" not in message  # no path on the server
    answer = client.get("/api/search", query_string={"q": "rural pension scheme China"})
    assert answer.status_code == 200 and answer.get_json()["results"][0]["document"]["filename"] == "pensions.pdf"
    assert len(client.get("/api/documents").get_json()["documents"]) == 4


# -- pictures ---------------------------------------------------------------------------------------


def png_header(width: int, height: int) -> bytes:
    """A one-bit PNG declaring ``width`` × ``height`` pixels, with a single empty row of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">L", len(data)) + kind + data + struct.pack(">L", zlib.crc32(kind + data))
    header = struct.pack(">2L5B", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


@needs_tesseract
def test_a_slide_picture_declaring_billions_of_pixels_is_skipped_not_decoded(tmp_path):
    picture = io.BytesIO()
    Image.new("L", (400, 300), 255).save(picture, "PNG")
    deck = Presentation()
    deck.slides.add_slide(deck.slide_layouts[6]).shapes.add_picture(picture, Inches(1), Inches(1))  # a blank layout
    path = tmp_path / "scan.pptx"
    deck.save(str(path))
    rewrite_zip(path, lambda parts: parts.update({name: png_header(60000, 60000) for name in parts
                                                  if name.startswith("ppt/media/")}))
    with pytest.raises(NoTextFound):  # the picture was the slide's only content, and it is left unread
        extract(path, OcrSettings(enabled=True))
