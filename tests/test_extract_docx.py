"""DOCX extraction: sections by heading, tables as rows, raw-XML fallbacks, headers, footers, notes and text boxes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml import parse_xml as parse_docx_xml

from indexer import extract
from indexer.errors import CorruptDocument

from .conftest import RELS_NS, ROW, SHARED_DOCUMENTS, make_docx, needs_shared, rewrite_zip, text_of


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


NAMESPACES = (
    f'xmlns:w="{W_NS}" xmlns:r="{RELS_NS}" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:v="urn:schemas-microsoft-com:vml"'
)


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
