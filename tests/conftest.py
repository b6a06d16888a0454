"""Shared fixtures: a fast fake embedder, small documents made on the fly, knowledge bases, and the web app
over them with its test helpers (``make_app``, ``client``, ``upload``, ``assert_error_shape``)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

import docx
import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont
from pptx import Presentation
from pptx.util import Inches

from indexer import KnowledgeBase, extract
from indexer.ocr import tesseract_available
from indexer.records import Document, Location, Passage
from indexer.store import Manifest, Store
from search_app import create_app

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_DOCUMENTS = SHARED / "documents"
needs_shared = pytest.mark.skipif(not SHARED_DOCUMENTS.is_dir(), reason="../shared/documents is not beside the project")
needs_tesseract = pytest.mark.skipif(not tesseract_available(), reason="tesseract is not installed (make install installs it)")
SCANNED_LINES = ["Informal workers in Zambia", "can join the pension scheme", "through their cooperatives."]
#: Questions that are FTS5 syntax, SQL or stray punctuation: every search must take them as plain text.
HOSTILE = ['"unbalanced quote', "AND", "OR NOT", "NEAR(pension scheme)", "*", "pension*", "(((", "a) OR (b",
           "text:pension", "^pension", '"', "'; DROP TABLE passages; --", "-pension", "pension + scheme", "{text}: x",
           "NOT", "🙂 pensions", "\\"]


def make_scan(lines: list[str]) -> Image.Image:
    """A white A4 page image (200 dpi) with black text, as a scanner would give it."""
    image = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=56)
    for number, line in enumerate(lines):
        draw.text((150, 200 + 90 * number), line, fill=0, font=font)
    return image


class FakeEmbedder:
    """Bag of hashed words: similar wording gives similar vectors; fast and deterministic (unit tests only)."""

    name = "fake-hash-embedder"
    dimension = 64

    def encode(self, texts, batch_size: int = 32) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def store(tmp_path: Path, fake_embedder: FakeEmbedder) -> Store:
    """An empty index directory for the fake embedder."""
    store = Store.create(tmp_path / "index", Manifest(model=fake_embedder.name, dimension=fake_embedder.dimension))
    yield store
    store.close()


def make_document(**fields) -> Document:
    """A ``Document`` record with placeholder values for every field not given."""
    base = dict(id=1, path="p", filename="f", title="t", type="presentation", format="pdf", sha256="s", size=1, indexed_at="")
    return Document(**{**base, **fields})


def save_texts(store: Store, path: str, texts: list[str], document_id: int = 0) -> Document:
    """Store a document of one passage per text (one page each) under the write lock; 0 adds, an id replaces."""
    document = Document(id=document_id, path=path, filename=Path(path).name, title=Path(path).stem, type="note",
                        format="text", sha256=f"sha-{path}-{len(texts)}", size=1, indexed_at="")
    passages = [Passage(text=text, location=Location(page=n + 1), ordinal=n, char_end=len(text)) for n, text in enumerate(texts)]
    with store.writing():
        return store.save_document(document, passages, FakeEmbedder().encode(texts))


def make_pdf(path: Path, pages: list[str], title: str = "", header: str = "") -> Path:
    """A PDF with one page per string (core font, so Latin-1 text only), an optional running header."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    if title:
        pdf.set_title(title)
    for number, text in enumerate(pages, start=1):
        pdf.add_page()
        if header:
            pdf.cell(0, 8, header, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, text)
        if header:
            pdf.set_y(-15)
            pdf.cell(0, 8, f"Page {number}")
    pdf.output(str(path))
    return path


def make_pptx(path: Path, slides: list[dict]) -> Path:
    """A deck with one slide per dict: title, bullets, optional table rows and notes."""
    deck = Presentation()
    for spec in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = spec["title"]
        slide.placeholders[1].text_frame.text = "\n".join(spec.get("bullets", []))
        rows = spec.get("table")
        if rows:
            table = slide.shapes.add_table(len(rows), len(rows[0]), Inches(1), Inches(4), Inches(6), Inches(1)).table
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
        if spec.get("notes"):
            slide.notes_slide.notes_text_frame.text = spec["notes"]
    deck.save(str(path))
    return path


def make_docx(path: Path, sections: dict[str, list[str]], title: str = "") -> Path:
    """A Word file with one Heading 1 per key and its paragraphs; a list of lists is a table."""
    document = docx.Document()
    if title:
        document.core_properties.title = title
    for heading, paragraphs in sections.items():
        document.add_heading(heading, level=1)
        for paragraph in paragraphs:
            if isinstance(paragraph, list):
                table = document.add_table(rows=len(paragraph), cols=len(paragraph[0]))
                for r, row in enumerate(paragraph):
                    for c, value in enumerate(row):
                        table.cell(r, c).text = value
            else:
                document.add_paragraph(paragraph)
    document.save(str(path))
    return path


# -- documents for the extractors' tests ---------------------------------------------------

TOPICS = ["pensions for rural elders", "health insurance for traders", "maternity cash benefits", "employment injury cover"]


@pytest.fixture
def four_page_pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "plain.pdf", [f"This page is about {topic}." for topic in TOPICS], title="Country note")


RELS_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
ROW = ["Country", "Scheme", "Contribution"]


def rewrite_zip(path: Path, change) -> Path:
    """Rewrite an Office file in place, letting ``change(parts)`` edit the ``{name: bytes}`` of its members."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    change(parts)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def text_of(path: Path) -> str:
    return "\n".join(section.text for section in extract(path).sections)


def make_beir(folder: Path) -> Path:
    """A BEIR folder of 30 short records on distinct subjects, 4 test questions judged by record id."""
    subjects = ["pension", "health", "maternity", "injury", "unemployment", "disability"]
    places = ["Thailand", "Zambia", "China", "Argentina", "Mongolia"]
    records = [{"_id": f"d{n}", "title": f"{subject} in {place}",
                "text": f"The {subject} scheme of {place} covers workers and their families, financed by contributions."}
               for n, (subject, place) in enumerate((s, p) for s in subjects for p in places)]
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    questions = {"q1": "pension in Zambia", "q2": "maternity benefits China", "q3": "injury Mongolia", "q4": "unemployment"}
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": text}) + "\n" for q, text in questions.items()))
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td12\t1\nq3\td19\t1\nq4\td20\t1\n")
    return folder


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """A folder with a PDF, a deck, a Word file and a Markdown note on social protection."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    make_pdf(folder / "pensions.pdf", [
        "Old-age pensions in China. The rural pension scheme launched in 2009 pays a basic pension financed by the government.",
        "Coverage grew quickly because enrolment was linked to household registration and local offices.",
    ], title="China pensions note")
    make_pptx(folder / "thailand.pptx", [
        {"title": "Thailand informal workers", "bullets": ["Section 40 of the Social Security Act", "Voluntary scheme since 2011"],
         "notes": "The government adds a co-contribution to each member's payment."},
        {"title": "Health coverage", "bullets": ["Universal Coverage Scheme from 2002", "Financed by general taxation"],
         "table": [["Scheme", "Year"], ["UCS", "2002"]]},
    ])
    make_docx(folder / "zambia.docx", {
        "Construction workers": ["Many builders work casually for small contractors and change sites often."],
        "Domestic workers": ["Domestic workers rarely have written contracts with the households that employ them."],
    }, title="Zambia field research")
    (folder / "monotributo.md").write_text(
        "# Monotributo\n\nArgentina's simplified regime merges tax and social security contributions in one monthly payment.\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def fake_kb(tmp_path: Path, fake_embedder: FakeEmbedder) -> KnowledgeBase:
    """An empty knowledge base in a temporary directory, with the fake embedder."""
    return KnowledgeBase(tmp_path / "data", embedder=fake_embedder)


@pytest.fixture
def indexed_kb(fake_kb: KnowledgeBase, small_corpus: Path) -> KnowledgeBase:
    """``fake_kb`` with ``small_corpus`` indexed."""
    fake_kb.index([small_corpus])
    return fake_kb


# -- the web app -----------------------------------------------------------------------------------

ADMIN_TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def make_app(fake_embedder: FakeEmbedder) -> Callable[..., Flask]:
    """Build the web app over a data directory, with the fake embedder, the admin token ``ADMIN_TOKEN`` and no
    rate limit (tests ask for many answers from one address; tests/test_limits.py turns it on).

    Keyword arguments are settings by variable (``KB_ADMIN_TOKEN=""`` turns writing off again).
    """

    def make(data_dir: Path, **settings) -> Flask:
        config = {"KB_DATA_DIR": str(data_dir), "KB_ADMIN_TOKEN": ADMIN_TOKEN, "KB_RATE_LIMIT": "off", "TESTING": True,
                  **settings}
        return create_app(config, embedder=fake_embedder)

    return make


@pytest.fixture
def client(make_app, indexed_kb: KnowledgeBase) -> FlaskClient:
    """The small corpus, served."""
    return make_app(indexed_kb.data_dir).test_client()


@pytest.fixture
def empty_client(make_app, tmp_path: Path) -> FlaskClient:
    """A server whose data directory holds no index yet."""
    return make_app(tmp_path / "nothing").test_client()


def assert_error_shape(response, status: int, code: str | None = None) -> None:
    """The response is the app's one error shape, ``{"error": {"code", "message"}}``, with this status (and code);
    a 500 adds ``request_id``, the same as its ``X-Request-Id`` header."""
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"}
    if status == 500:
        assert set(body["error"]) == {"code", "message", "request_id"}
        assert body["error"]["request_id"] == response.headers["X-Request-Id"]
    else:
        assert set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code


def upload(client: FlaskClient, path: Path, name: str | None = None, headers=AUTH, **fields):
    """POST one file (read into memory, so no file handle is left open) with catalogue fields."""
    data = {"file": (io.BytesIO(path.read_bytes()), name or path.name), **fields}
    return client.post("/api/documents", data=data, headers=headers, content_type="multipart/form-data")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for servers the tests start)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def upload_dir(tmp_path, monkeypatch) -> Path:
    """Where the app writes its temporary copies of uploads (tests check it is left empty)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder
