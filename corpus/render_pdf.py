"""PDF renderer (fpdf2): A4 ``document`` pages or 16:9 ``slides`` pages.

Text is set in DejaVu Sans (Unicode TTF) so pypdf can extract it.  Every unit
must fit on exactly one page; an overflow raises SourceError.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos

from sourcedoc import (DISCLAIMER, BulletList, Heading, Paragraph, SourceDoc,
                       SourceError, Table, plain_text)

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf",
              "I": "DejaVuSans-Oblique.ttf", "BI": "DejaVuSans-BoldOblique.ttf"}
FAMILY = "DejaVu"
PT = 0.3528  # millimetres per point


@dataclass(frozen=True)
class Style:
    """Page geometry and type sizes (points) for one PDF layout."""
    orientation: str
    page: tuple[float, float]
    margin: float
    top: float
    bottom: float
    h1: float
    h2: float
    body: float
    table: float
    indent: float
    gap: float


DOCUMENT = Style("P", (210.0, 297.0), 20, 24, 20, 15, 12, 10.5, 9, 5, 2.5)
SLIDES = Style("L", (190.5, 338.67), 16, 14, 10, 28, 20, 17, 12.5, 8, 3.5)
TITLE_RGB = (20, 50, 110)


def check_fonts() -> None:
    """Fail with a clear message when the DejaVu TTF files are missing."""
    missing = [name for name in FONT_FILES.values() if not (FONT_DIR / name).is_file()]
    if missing:
        raise SystemExit(
            f"build.py: font(s) {', '.join(missing)} not found in {FONT_DIR}; "
            "install them with: apt-get install -y fonts-dejavu-core")


class CorpusPDF(FPDF):
    """FPDF with the running header and page-number footer of ``document`` layout."""

    def __init__(self, doc: SourceDoc, style: Style):
        """Set up page format, fonts, margins and metadata."""
        super().__init__(orientation=style.orientation, unit="mm", format=style.page)
        self.doc, self.layout = doc, style
        for emphasis, name in FONT_FILES.items():
            self.add_font(FAMILY, emphasis, str(FONT_DIR / name))
        self.set_margins(style.margin, style.top, style.margin)
        self.set_auto_page_break(True, margin=style.bottom)
        self.set_title(doc.title)
        self.set_subject(DISCLAIMER)
        self.set_keywords("; ".join([DISCLAIMER] + list(doc.meta["countries"])))
        self.set_author(doc.author)
        self.set_creator("corpus/build.py")
        self.set_lang(doc.meta["language"])
        self.set_creation_date(doc.created)

    def is_document(self) -> bool:
        """True for the A4 ``document`` layout (header and footer on every page)."""
        return self.layout is DOCUMENT

    def header(self) -> None:
        """Running header: the document title above a thin rule."""
        if not self.is_document():
            return
        self.set_font(FAMILY, "", 8)
        self.set_text_color(110, 110, 110)
        self.set_xy(self.l_margin, 10)
        self.cell(0, 5, self.doc.title, align="L")
        self.set_draw_color(170, 170, 170)
        self.line(self.l_margin, 16, self.w - self.r_margin, 16)
        self.set_text_color(0, 0, 0)
        self.set_y(self.t_margin)

    def footer(self) -> None:
        """Footer: 'Page N of M', centred."""
        if not self.is_document():
            return
        self.set_y(-13)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def line_height(size_pt: float) -> float:
    """Line height in mm for a font size in points."""
    return size_pt * PT * 1.3


def write_disclaimer(pdf: CorpusPDF) -> None:
    """Put the reconstruction line on the first page (top) or slide (bottom)."""
    pdf.set_font(FAMILY, "I", 8 if pdf.is_document() else 10)
    pdf.set_text_color(90, 90, 90)
    if pdf.is_document():
        pdf.multi_cell(0, 4, DISCLAIMER, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
    else:
        pdf.set_auto_page_break(False)
        pdf.set_xy(pdf.l_margin, pdf.h - 8)
        pdf.cell(0, 5, DISCLAIMER, align="L")
        pdf.set_auto_page_break(True, margin=pdf.layout.bottom)
        pdf.set_xy(pdf.l_margin, pdf.t_margin)
    pdf.set_text_color(0, 0, 0)


def write_heading(pdf: CorpusPDF, block: Heading, first: bool) -> None:
    """A title/section heading (``#``) or sub-heading (``##``)."""
    st = pdf.layout
    size = st.h1 if block.level == 1 else st.h2
    if not first:
        pdf.ln(st.gap * (1.5 if block.level == 1 else 1))
    pdf.set_font(FAMILY, "B", size)
    pdf.set_text_color(*TITLE_RGB)
    pdf.multi_cell(0, line_height(size), plain_text(block.text),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    if block.level == 1 and not pdf.is_document():
        pdf.set_draw_color(*TITLE_RGB)
        pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.w - pdf.r_margin, pdf.get_y() + 1)
        pdf.ln(4)
    pdf.ln(st.gap * 0.6)


def write_paragraph(pdf: CorpusPDF, block: Paragraph) -> None:
    """A paragraph of running text."""
    pdf.set_font(FAMILY, "", pdf.layout.body)
    pdf.multi_cell(0, line_height(pdf.layout.body), plain_text(block.text),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(pdf.layout.gap)


def write_bullets(pdf: CorpusPDF, block: BulletList) -> None:
    """A bullet list; sub-items are indented and slightly smaller."""
    st = pdf.layout
    for level, text in block.items:
        size = st.body if level == 0 else st.body * 0.92
        pdf.set_font(FAMILY, "", size)
        indent = st.indent * (level + 1)
        pdf.set_x(pdf.l_margin + indent - st.indent * 0.8)
        pdf.cell(st.indent * 0.8, line_height(size), "•" if level == 0 else "–")
        pdf.multi_cell(pdf.epw - indent, line_height(size), plain_text(text),
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(st.gap * 0.35)
    pdf.ln(st.gap * 0.6)


def column_widths(pdf: CorpusPDF, block: Table) -> list[float]:
    """Column widths (mm) proportional to content, but wide enough for the longest word."""
    pdf.set_font(FAMILY, "B", pdf.layout.table)
    words = [[w for row in [block.header] + block.rows for w in plain_text(row[c]).split()]
             for c in range(len(block.header))]
    minimum = [max((pdf.get_string_width(w) for w in col), default=0) + 4 for col in words]
    weights = block.column_weights()
    widths = [pdf.epw * w / sum(weights) for w in weights]
    short = [i for i, w in enumerate(widths) if w < minimum[i]]
    spare = pdf.epw - sum(minimum[i] for i in short)
    rest = sum(weights[i] for i in range(len(widths)) if i not in short) or 1
    return [minimum[i] if i in short else spare * weights[i] / rest for i in range(len(widths))]


def write_table(pdf: CorpusPDF, block: Table) -> None:
    """A pipe table with a bold shaded header row; widths follow content length."""
    rows = [block.header] + block.rows
    widths = column_widths(pdf, block)
    pdf.set_font(FAMILY, "", pdf.layout.table)
    heading_style = FontFace(emphasis="BOLD", fill_color=(222, 229, 242))
    with pdf.table(col_widths=widths, width=pdf.epw, text_align="LEFT",
                   line_height=line_height(pdf.layout.table), padding=(0.8, 1.2),
                   headings_style=heading_style, first_row_as_headings=True) as table:
        for row in rows:
            cells = table.row()
            for text in row:
                cells.cell(plain_text(text))
    pdf.ln(pdf.layout.gap)


WRITERS = {Paragraph: write_paragraph, BulletList: write_bullets, Table: write_table}


def render_pdf(doc: SourceDoc, out: Path) -> int:
    """Render ``doc`` to ``out``; return the page count. One unit = one page."""
    check_fonts()
    pdf = CorpusPDF(doc, DOCUMENT if doc.meta["layout"] == "document" else SLIDES)
    for unit in doc.units:
        pdf.add_page()
        start = pdf.page
        if unit.number == 1:
            write_disclaimer(pdf)
        for i, block in enumerate(unit.blocks):
            if isinstance(block, Heading):
                write_heading(pdf, block, first=(i == 0))
            else:
                WRITERS[type(block)](pdf, block)
        if pdf.page != start:
            raise SourceError(f"{doc.path}: unit {unit.number} does not fit on one PDF page "
                              f"(layout {doc.meta['layout']}); shorten or split it")
    pdf.output(str(out))
    return pdf.pages_count
