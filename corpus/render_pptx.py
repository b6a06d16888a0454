"""PPTX renderer (python-pptx): 16:9 slides with a title and a body placeholder.

Text blocks go into the body placeholder (bullet levels kept; paragraphs and
sub-headings without bullet), pipe tables become real pptx tables placed
below the text, and ``Notes:`` become the speaker notes.
"""
from __future__ import annotations

import io
from pathlib import Path

from pptx import Presentation
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt

from sourcedoc import (set_core_properties, DISCLAIMER, BulletList, Heading, Paragraph, SourceDoc,
                       Table, normalise_zip, plain_text)

SLIDE_W, SLIDE_H = Inches(13.333), Inches(7.5)
LEFT, WIDTH = Inches(0.6), Inches(12.13)
BODY_TOP, BODY_BOTTOM = Inches(1.45), Inches(6.85)
TITLE_AND_CONTENT = 1


def text_lines(unit) -> list[tuple[str, int, str]]:
    """Flatten a unit's non-table blocks into (kind, level, text) body lines."""
    lines: list[tuple[str, int, str]] = []
    for block in unit.blocks:
        if isinstance(block, Heading) and block.level == 1 and block.text == unit.title:
            continue
        if isinstance(block, Heading):
            lines.append(("heading", 0, block.text))
        elif isinstance(block, Paragraph):
            lines.append(("para", 0, block.text))
        elif isinstance(block, BulletList):
            lines.extend(("bullet", min(level, 4), text) for level, text in block.items)
    return lines


def set_no_bullet(paragraph) -> None:
    """Suppress the layout's bullet glyph on one paragraph."""
    ppr = paragraph._p.get_or_add_pPr()
    ppr.set("marL", "0")
    ppr.set("indent", "0")
    ppr.insert(0, ppr.makeelement(qn("a:buNone"), {}))


def fill_body(placeholder, lines: list[tuple[str, int, str]]) -> None:
    """Write the body lines into the body placeholder with sizes by density."""
    placeholder.left, placeholder.width = LEFT, WIDTH
    frame = placeholder.text_frame
    frame.word_wrap = True
    size = 20 if len(lines) <= 7 else 17 if len(lines) <= 11 else 14
    for i, (kind, level, text) in enumerate(lines):
        para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        para.text = plain_text(text)
        para.level = level
        para.font.size = Pt(size - 2 * level)
        if kind != "bullet":
            set_no_bullet(para)
        if kind == "heading":
            para.font.bold = True


def column_widths(table: Table, size: int) -> list[Emu]:
    """Column widths proportional to content, but wide enough for the longest word."""
    rows = [table.header] + table.rows
    longest = [max((len(w) for r in rows for w in plain_text(r[c]).split()), default=1)
               for c in range(len(table.header))]
    minimum = [int(size * 0.62 * n + Inches(0.25)) for n in longest]
    weights = table.column_weights()
    widths = [WIDTH * w / sum(weights) for w in weights]
    short = [i for i, w in enumerate(widths) if w < minimum[i]]
    spare = WIDTH - sum(minimum[i] for i in short)
    rest = sum(weights[i] for i in range(len(widths)) if i not in short) or 1
    return [Emu(int(minimum[i] if i in short else spare * weights[i] / rest))
            for i in range(len(widths))]


def add_table(slide, table: Table, top: int, height: int) -> None:
    """Add a real pptx table (header row first) in the given vertical band."""
    rows = [table.header] + table.rows
    row_height = Emu(int(min(height / len(rows), Inches(0.6))))
    shape = slide.shapes.add_table(len(rows), len(table.header), LEFT, top, WIDTH,
                                   Emu(row_height * len(rows)))
    grid = shape.table
    size = Pt(14 if len(rows) <= 6 else 12 if len(rows) <= 9 else 10)
    for c, width in enumerate(column_widths(table, size)):
        grid.columns[c].width = width
    for r, row in enumerate(rows):
        grid.rows[r].height = row_height
        for c, text in enumerate(row):
            cell = grid.cell(r, c)
            cell.text = plain_text(text)
            for para in cell.text_frame.paragraphs:
                para.font.size = size


def layout_slide(slide, unit) -> None:
    """Fill the title, body placeholder and tables of one slide."""
    title, body = slide.placeholders[0], slide.placeholders[1]
    title.left, title.top, title.width, title.height = LEFT, Inches(0.35), WIDTH, Inches(1.0)
    if unit.title:
        title.text = plain_text(unit.title)
    else:
        title._element.getparent().remove(title._element)
    lines = text_lines(unit)
    tables = [b for b in unit.blocks if isinstance(b, Table)]
    top = BODY_TOP
    if lines:
        body.top = BODY_TOP
        body.height = BODY_BOTTOM - BODY_TOP
        if tables:
            body.height = Inches(min(0.2 + 0.45 * len(lines), 2.6))
        fill_body(body, lines)
        top = body.top + body.height + Inches(0.1)
    else:
        body._element.getparent().remove(body._element)
    if tables:
        band = int((BODY_BOTTOM - top) / len(tables))
        for i, table in enumerate(tables):
            add_table(slide, table, top + i * band, band - Inches(0.1))


def add_disclaimer(slide) -> None:
    """Put the reconstruction line at the foot of the first slide."""
    box = slide.shapes.add_textbox(LEFT, Inches(6.95), WIDTH, Inches(0.4))
    para = box.text_frame.paragraphs[0]
    para.text = DISCLAIMER
    para.font.size = Pt(11)
    para.font.italic = True


def set_properties(prs, doc: SourceDoc) -> None:
    """Fixed core properties: title, disclaimer as subject/comments, dates."""
    set_core_properties(prs.core_properties, doc)


def render_pptx(doc: SourceDoc, out: Path) -> int:
    """Render ``doc`` to a .pptx file; return the slide count."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_W, SLIDE_H
    for unit in doc.units:
        slide = prs.slides.add_slide(prs.slide_layouts[TITLE_AND_CONTENT])
        layout_slide(slide, unit)
        if unit.number == 1:
            add_disclaimer(slide)
        if unit.notes:
            slide.notes_slide.notes_text_frame.text = unit.notes
    set_properties(prs, doc)
    buffer = io.BytesIO()
    prs.save(buffer)
    out.write_bytes(normalise_zip(buffer.getvalue(), doc.created))
    return len(prs.slides)
