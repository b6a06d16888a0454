"""PPTX extraction: slides, titles, bullets, tables, notes, grouped shapes and raw-XML fallbacks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pptx import Presentation
from pptx.oxml import parse_xml as parse_pptx_xml
from pptx.util import Inches

from indexer import extract
from indexer.errors import NoTextFound

from .conftest import RELS_NS, ROW, SHARED_DOCUMENTS, make_pptx, needs_shared, rewrite_zip


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


def test_pptx_table_with_merged_cells_lists_them_once(tmp_path):
    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    slide.shapes.title.text = "Schemes"
    table = slide.shapes.add_table(4, 3, Inches(1), Inches(2), Inches(6), Inches(2)).table
    table.cell(1, 0).merge(table.cell(2, 0))  # "Thailand" down over two rows
    table.cell(3, 0).merge(table.cell(3, 2))  # "All" across the last row
    for r, values in enumerate([ROW, ["Thailand", "Section 40", "100 baht"], ["", "Voluntary", "22%"], ["All", "", ""]]):
        for c, value in enumerate(values):
            if value:
                table.cell(r, c).text = value
    deck.save(tmp_path / "merged.pptx")
    (section,) = extract(tmp_path / "merged.pptx").sections
    assert section.text == (
        "Schemes\n"
        "Country: Thailand · Scheme: Section 40 · Contribution: 100 baht\n"
        "Country: Thailand · Scheme: Voluntary · Contribution: 22%\n"
        "All"
    )


def two_slide_deck(path: Path) -> Path:
    return make_pptx(path, [
        {"title": "Informal workers", "bullets": ["Section 40"], "notes": "Government co-pays."},
        {"title": "Health", "bullets": ["Universal coverage"], "table": [["Scheme", "Year"], ["UCS", "2002"]]},
    ])


def test_pptx_python_pptx_cannot_open_is_read_slide_by_slide_from_xml(tmp_path):
    path = two_slide_deck(tmp_path / "deck.pptx")

    def break_package(parts):
        # python-pptx refuses a package whose main part has no PowerPoint content type ...
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b'PartName="/ppt/presentation.xml"', b'PartName="/x"')
        # ... and the slides are listed in the other order than their file names
        slide_ids = re.findall(rb"<p:sldId [^>]*/>", parts["ppt/presentation.xml"])
        parts["ppt/presentation.xml"] = parts["ppt/presentation.xml"].replace(b"".join(slide_ids), b"".join(reversed(slide_ids)))

    rewrite_zip(path, break_package)
    with pytest.raises(ValueError):
        Presentation(str(path))
    sections = extract(path).sections
    assert [(section.location.slide, section.heading) for section in sections] == [(1, "Health"), (2, "Informal workers")]
    assert sections[0].text == "Health\nUniversal coverage\nScheme: UCS · Year: 2002"
    assert sections[1].text == "Informal workers\nSection 40\nNotes: Government co-pays."


def test_pptx_slide_python_pptx_fails_on_is_read_from_its_xml(tmp_path):
    path = two_slide_deck(tmp_path / "deck.pptx")
    deck = Presentation(str(path))
    broken_chart = (
        '<p:graphicFrame xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
        f'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="{RELS_NS}">'
        '<p:nvGraphicFramePr><p:cNvPr id="99" name="Chart"/><p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr>'
        '<p:xfrm><a:off x="0" y="0"/><a:ext cx="10" cy="10"/></p:xfrm><a:graphic>'
        '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart">'
        '<c:chart xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" r:id="rIdMissing"/>'
        "</a:graphicData></a:graphic></p:graphicFrame>"
    )
    deck.slides[1].shapes._spTree.append(parse_pptx_xml(broken_chart))
    deck.save(str(path))
    with pytest.raises(KeyError):
        [shape.chart for shape in Presentation(str(path)).slides[1].shapes if shape.has_chart]
    first, second = extract(path).sections
    assert first.text == "Informal workers\nSection 40\nNotes: Government co-pays."
    assert (second.location.slide, second.heading) == (2, "Health")
    assert second.text == "Health\nUniversal coverage\nScheme: UCS · Year: 2002"


def test_pptx_without_slides_is_refused_as_such(tmp_path):
    Presentation().save(tmp_path / "empty.pptx")
    with pytest.raises(NoTextFound, match="no slides"):
        extract(tmp_path / "empty.pptx")


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
def test_shared_deck_with_a_missing_part_is_read():
    (section,) = extract(SHARED_DOCUMENTS / "hard/pptxlib__missing_rels_item.pptx").sections
    assert (section.location.slide, section.text) == (1, "Presentation Title Text\nSubtitle Text")
