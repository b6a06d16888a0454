"""DOCX, PPTX and HTML extraction on awkward files made here: labelled table rows, raw-XML fallbacks, extra DOCX parts."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml import parse_xml as parse_docx_xml
from docx.oxml.ns import qn
from pptx import Presentation
from pptx.oxml import parse_xml as parse_pptx_xml
from pptx.util import Inches

from indexer import extract
from indexer.errors import CorruptDocument, NoTextFound
from indexer.extract.ooxml import TableCell, table_lines

from .conftest import SHARED_DOCUMENTS, make_pptx, needs_shared

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
RELS_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NAMESPACES = (
    f'xmlns:w="{W_NS}" xmlns:r="{RELS_NS}" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:v="urn:schemas-microsoft-com:vml"'
)
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


def add_docx_part(parts: dict[str, bytes], name: str, kind: str, xml: str) -> None:
    """Add a part such as ``word/footnotes.xml`` with its content type and its relationship from the body."""
    parts[name] = xml.encode()
    content_type = f"application/vnd.openxmlformats-officedocument.wordprocessingml.{kind}+xml"
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", f'<Override PartName="/{name}" ContentType="{content_type}"/></Types>'.encode())
    relationship = f'<Relationship Id="rIdExtra{kind}" Type="{RELS_NS}/{kind}" Target="{Path(name).name}"/>'
    rels = "word/_rels/document.xml.rels"
    parts[rels] = parts[rels].replace(b"</Relationships>", f"{relationship}</Relationships>".encode())


def paragraphs_xml(*texts: str) -> str:
    return "".join(f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>" for text in texts)


def text_of(path: Path) -> str:
    return "\n".join(section.text for section in extract(path).sections)


# -- table rows named by their headers ---------------------------------------------------


def cells(*texts: str) -> list[TableCell]:
    return [TableCell(text) for text in texts]


def test_rows_name_each_value_by_its_header_and_leave_empty_cells_out():
    rows = [cells(*ROW), cells("Thailand", "Section 40", "100 baht"), cells("Viet Nam", "", "2%")]
    assert table_lines(rows) == [
        "Country: Thailand · Scheme: Section 40 · Contribution: 100 baht",
        "Country: Viet Nam · Contribution: 2%",
    ]


def test_one_row_and_mostly_empty_header_tables_are_plain_cells():
    assert table_lines([cells("a", "", "b")]) == ["a · b"]
    assert table_lines([cells("", "", "x"), cells("1", "2", "3")]) == ["x", "1 · 2 · 3"]


def test_merged_cells_are_listed_once_across_and_repeated_down():
    rows = [
        [TableCell("Country"), TableCell("Contribution", colspan=2)],
        [TableCell("Country"), TableCell("Employer"), TableCell("Worker")],
        [TableCell("Thailand", rowspan=2), TableCell("5%"), TableCell("5%")],
        [TableCell("3%"), TableCell("")],
        [TableCell("Total across", colspan=3)],
    ]
    assert table_lines(rows) == [
        "Country: Thailand · Contribution / Employer: 5% · Contribution / Worker: 5%",
        "Country: Thailand · Contribution / Employer: 3%",
        "Total across",
    ]


def test_a_caption_row_and_headers_of_empty_columns_are_kept():
    rows = [[TableCell("Table 1. Schemes", colspan=2)], cells("Scheme", "Notes"), cells("SSO", "")]
    assert table_lines(rows) == ["Table 1. Schemes", "Scheme · Notes", "Scheme: SSO"]


def test_absurd_spans_are_capped():
    rows = [[TableCell("wide", colspan=10**9, rowspan=10**9)], cells("x")]
    assert table_lines(rows) == ["wide", "x"]


# -- DOCX --------------------------------------------------------------------------------


def irregular_table_docx(path: Path) -> Path:
    """A table python-docx cannot lay out: a ``w:vMerge`` continuation under a cell that spans two columns."""
    document = docx.Document()
    document.add_heading("Contributions", level=1)
    table = document.add_table(rows=4, cols=3)
    for r, values in enumerate([ROW, ["Thailand", "Section 40", "100 baht"], ["Viet Nam", "", "2%"], ["Lao PDR", "", "50 kip"]]):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    spanning_row, continuing_row = table._tbl.tr_lst[2], table._tbl.tr_lst[3]
    spanning_row.remove(spanning_row.tc_lst[1])
    spanning_row.tc_lst[0].get_or_add_tcPr().append(parse_docx_xml(f'<w:gridSpan xmlns:w="{W_NS}" w:val="2"/>'))
    continuing_row.tc_lst[1].get_or_add_tcPr().append(parse_docx_xml(f'<w:vMerge xmlns:w="{W_NS}"/>'))
    document.save(str(path))
    return path


def test_docx_table_python_docx_cannot_lay_out_is_read_from_its_xml(tmp_path):
    path = irregular_table_docx(tmp_path / "irregular.docx")
    with pytest.raises(ValueError, match="grid_offset"):
        [row.cells for row in docx.Document(str(path)).tables[0].rows]
    (section,) = extract(path).sections
    assert section.heading == "Contributions"
    assert section.text == (
        "Contributions\n"
        "Country: Thailand · Scheme: Section 40 · Contribution: 100 baht\n"
        "Country / Scheme: Viet Nam · Contribution: 2%\n"  # Viet Nam spans both columns
        "Country: Lao PDR · Contribution: 50 kip"
    )


def test_docx_merged_and_nested_tables_keep_their_text(tmp_path):
    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    for c, value in enumerate(ROW):
        table.cell(0, c).text = value
    table.cell(1, 0).text = "Thailand"
    merged = table.cell(1, 1).merge(table.cell(1, 2))
    merged.text = "Section 40 for 100 baht"
    table.cell(2, 0).text = "Viet Nam"
    inner = table.cell(2, 1).add_table(rows=2, cols=2)
    for r, values in enumerate([["Benefit", "Rate"], ["Pension", "22%"]]):
        for c, value in enumerate(values):
            inner.cell(r, c).text = value
    document.save(str(tmp_path / "merged.docx"))
    assert text_of(tmp_path / "merged.docx") == (
        "Country: Thailand · Scheme / Contribution: Section 40 for 100 baht\n"
        "Country: Viet Nam · Scheme: (Benefit: Pension · Rate: 22%)"
    )


def test_docx_python_docx_cannot_open_is_read_from_document_xml(tmp_path):
    path = tmp_path / "bare.docx"
    body = (
        '<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:t>Pension note</w:t></w:r></w:p>'
        + paragraphs_xml("Written for the meeting.")
        + '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Coverage</w:t></w:r></w:p>'
        + paragraphs_xml("Low among", "own-account workers.")
        + "<w:tbl><w:tr><w:tc>" + paragraphs_xml("Scheme") + "</w:tc><w:tc>" + paragraphs_xml("Year") + "</w:tc></w:tr>"
        + "<w:tr><w:tc>" + paragraphs_xml("UCS") + "</w:tc><w:tc>" + paragraphs_xml("2002") + "</w:tc></w:tr></w:tbl>"
    )
    with zipfile.ZipFile(path, "w") as archive:  # no [Content_Types].xml: python-docx refuses the package
        archive.writestr("word/document.xml", f"<w:document {NAMESPACES}><w:body>{body}</w:body></w:document>")
    extracted = extract(path)
    assert [(section.heading, section.text) for section in extracted.sections] == [
        ("Pension note", "Pension note\nWritten for the meeting."),
        ("Coverage", "Coverage\nLow among\nown-account workers.\nScheme: UCS · Year: 2002"),
    ]
    assert extracted.title == "Pension note"


@pytest.mark.parametrize("document_xml", [b"\x00\x01 not XML", b"<w:document"], ids=["binary", "truncated"])
def test_docx_whose_main_part_is_unreadable_is_corrupt(tmp_path, document_xml):
    path = tmp_path / "broken.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", document_xml)
    with pytest.raises(CorruptDocument, match="broken.docx"):
        extract(path)


def text_box_run(text: str) -> str:
    """A run holding a Word text box as Word writes it: a DrawingML shape, and a VML copy under mc:Fallback."""
    box = f"<w:txbxContent>{paragraphs_xml(text)}</w:txbxContent>"
    return (
        f"<w:r {NAMESPACES}><mc:AlternateContent>"
        '<mc:Choice Requires="wps"><w:drawing><wp:anchor><a:graphic>'
        '<a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
        f"<wps:wsp><wps:txbx>{box}</wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>"
        f"<mc:Fallback><w:pict><v:shape><v:textbox>{box}</v:textbox></v:shape></w:pict></mc:Fallback>"
        "</mc:AlternateContent></w:r>"
    )


def docx_with_every_part(path: Path) -> Path:
    """A report with headers (the same text in two sections), a footer, notes, a comment and a text box."""
    document = docx.Document()
    document.add_heading("Findings", level=1)
    paragraph = document.add_paragraph("Coverage is low.")
    paragraph._p.append(parse_docx_xml(text_box_run("Boxed remark on coverage")))
    document.sections[0].header.paragraphs[0].text = "ESSA experts meeting"
    document.sections[0].footer.paragraphs[0].text = "Bangkok, May 2017"
    second = document.add_section()
    second.header.is_linked_to_previous = False
    second.header.paragraphs[0].text = "ESSA experts meeting"
    document.add_paragraph("Annex text.")
    document.save(str(path))

    def add_notes(parts):
        add_docx_part(parts, "word/footnotes.xml", "footnotes",
                      f'<w:footnotes {NAMESPACES}><w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
                      f'</w:footnote><w:footnote w:id="1">{paragraphs_xml("Source: labour force survey 2016.")}</w:footnote></w:footnotes>')
        add_docx_part(parts, "word/endnotes.xml", "endnotes",
                      f'<w:endnotes {NAMESPACES}><w:endnote w:id="1">{paragraphs_xml("Figures rounded.")}</w:endnote></w:endnotes>')
        add_docx_part(parts, "word/comments.xml", "comments",
                      f'<w:comments {NAMESPACES}><w:comment w:id="0" w:author="QA">{paragraphs_xml("Check this number.")}</w:comment>'
                      "</w:comments>")

    return rewrite_zip(path, add_notes)


def test_docx_headers_footers_notes_comments_and_text_boxes_are_sections(tmp_path):
    extracted = extract(docx_with_every_part(tmp_path / "report.docx"))
    named = {section.location.section: section for section in extracted.sections}
    assert list(named) == ["Findings", "Text boxes", "Header", "Footer", "Footnotes", "Endnotes", "Comments"]
    assert all(section.heading == name for name, section in named.items())
    assert named["Findings"].text == "Findings\nCoverage is low.\nAnnex text."
    assert named["Text boxes"].text == "Boxed remark on coverage"
    assert named["Header"].text == "ESSA experts meeting"
    assert named["Footer"].text == "Bangkok, May 2017"
    assert named["Footnotes"].text == "Source: labour force survey 2016."
    assert named["Endnotes"].text == "Figures rounded."
    assert named["Comments"].text == "Check this number."
    assert extracted.title == "Findings"


def test_docx_without_headings_is_not_titled_after_its_header(tmp_path):
    document = docx.Document()
    document.add_paragraph("Plain body text.")
    document.sections[0].header.paragraphs[0].text = "Draft"
    document.save(str(tmp_path / "field-notes.docx"))
    extracted = extract(tmp_path / "field-notes.docx")
    assert [section.heading for section in extracted.sections] == ["", "Header"]
    assert extracted.title == "field notes"


@needs_shared
def test_shared_docx_headers_and_footers_are_read_once_without_merged_away_text():
    sections = extract(SHARED_DOCUMENTS / "real/unstr__docx-hdrftr.docx").sections
    assert [section.location.section for section in sections] == [None, "Header", "Footer"]
    assert sections[1].text == "First header para\nTable cell1 · Table cell2\nLast header para"
    assert "cell1 · a (b · c; d · c: e) f" in sections[2].text  # a table nested in a footer table cell
    assert "I should not be included" not in sections[2].text  # text under a w:vMerge continuation


# -- PPTX --------------------------------------------------------------------------------


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
def test_shared_deck_with_a_missing_part_is_read():
    (section,) = extract(SHARED_DOCUMENTS / "hard/pptxlib__missing_rels_item.pptx").sections
    assert (section.location.slide, section.text) == (1, "Presentation Title Text\nSubtitle Text")


# -- HTML and Markdown --------------------------------------------------------------------


def html_text(tmp_path: Path, body: str) -> str:
    path = tmp_path / "page.html"
    path.write_text(f"<!doctype html><html><body>{body}</body></html>", encoding="utf-8")
    return text_of(path)


def test_html_table_uses_its_th_row_spans_and_caption(tmp_path):
    table = (
        "<table><caption>Schemes in 2017</caption>"
        '<tr><td colspan="3">Source: ILO</td></tr>'
        "<thead><tr><th>Country</th><th>Scheme</th><th>Contribution</th></tr></thead>"
        '<tbody><tr><td rowspan="2">Thailand</td><td>Section 40</td><td>100 baht</td></tr>'
        "<tr><td>Section 39</td><td></td></tr></tbody></table>"
    )
    assert html_text(tmp_path, table) == (
        "Schemes in 2017\nSource: ILO\n"
        "Country: Thailand · Scheme: Section 40 · Contribution: 100 baht\n"
        "Country: Thailand · Scheme: Section 39"
    )


def test_html_nested_and_key_value_tables(tmp_path):
    nested = (
        "<table><tr><th>Country</th><th>Benefits</th></tr><tr><td>Cambodia</td><td>"
        "<table><tr><td>Benefit</td><td>Rate</td></tr><tr><td>Pension</td><td>8%</td></tr></table>"
        "</td></tr></table>"
    )
    key_value = "<table><tr><th>Country</th><td>Lao PDR</td></tr><tr><th>Scheme</th><td>LSSO</td></tr></table>"
    assert html_text(tmp_path, nested + key_value) == (
        "Country: Cambodia · Benefits: (Benefit: Pension · Rate: 8%)\n\nCountry · Lao PDR\nScheme · LSSO"
    )


def test_markdown_table_rows_are_named_by_the_header(tmp_path):
    path = tmp_path / "note.md"
    path.write_text("# Rates\n\n| Country | Rate |\n|---|---|\n| Thailand | 5% |\n| Viet Nam | 8% |\n", encoding="utf-8")
    (section,) = extract(path).sections
    assert section.text == "Rates\n\nCountry: Thailand · Rate: 5%\nCountry: Viet Nam · Rate: 8%"
