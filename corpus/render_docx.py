"""DOCX renderer (python-docx): real Heading 1/2 styles, bullet list styles,
real tables, and a page break between units."""
from __future__ import annotations

import io
from pathlib import Path

from docx import Document
from docx.shared import Mm, Pt

from sourcedoc import (set_core_properties, DISCLAIMER, BulletList, Heading, Paragraph, SourceDoc,
                       Table, normalise_zip, plain_text)

BULLET_STYLES = ("List Bullet", "List Bullet 2", "List Bullet 3")


def add_table(document, block: Table) -> None:
    """A real Word table in 'Table Grid' style with a bold header row."""
    rows = [block.header] + block.rows
    table = document.add_table(rows=len(rows), cols=len(block.header))
    table.style = document.styles["Table Grid"]
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            cell = table.cell(r, c)
            cell.text = plain_text(text)
            if r == 0:
                for run in cell.paragraphs[0].runs:
                    run.bold = True
    document.add_paragraph()


def add_block(document, block) -> None:
    """Append one parsed block to the document."""
    if isinstance(block, Heading):
        document.add_heading(plain_text(block.text), level=min(block.level, 2))
    elif isinstance(block, Paragraph):
        document.add_paragraph(plain_text(block.text))
    elif isinstance(block, BulletList):
        for level, text in block.items:
            style = BULLET_STYLES[min(level, len(BULLET_STYLES) - 1)]
            document.add_paragraph(plain_text(text), style=style)
    elif isinstance(block, Table):
        add_table(document, block)


def add_front(document, doc: SourceDoc) -> int:
    """Title, then the reconstruction line; return how many blocks were used.

    If the first unit opens with a heading equal to the title, that heading is
    kept as a real heading; otherwise the title is added in the 'Title' style.
    """
    first = doc.units[0].blocks[0] if doc.units[0].blocks else None
    opens_with_title = (isinstance(first, Heading) and
                        first.text.strip().lower() == doc.title.strip().lower())
    if opens_with_title:
        add_block(document, first)
    else:
        document.add_paragraph(doc.title, style="Title")
    note = document.add_paragraph()
    run = note.add_run(DISCLAIMER)
    run.italic = True
    run.font.size = Pt(9)
    return 1 if opens_with_title else 0


def set_properties(document, doc: SourceDoc) -> None:
    """Fixed core properties: title, disclaimer as subject/comments, dates."""
    set_core_properties(document.core_properties, doc)
    document.core_properties.last_printed = doc.created.replace(tzinfo=None)


def render_docx(doc: SourceDoc, out: Path) -> int:
    """Render ``doc`` to a .docx file; return the number of units (page-break sections)."""
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for unit in doc.units:
        skip = add_front(document, doc) if unit.number == 1 else 0
        if unit.number > 1:
            document.add_page_break()
        for block in unit.blocks[skip:]:
            add_block(document, block)
    set_properties(document, doc)
    buffer = io.BytesIO()
    document.save(buffer)
    out.write_bytes(normalise_zip(buffer.getvalue(), doc.created))
    return len(doc.units)
