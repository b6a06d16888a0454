"""Table rows named by their headers (``ooxml.table_lines``), shared by the DOCX and PPTX readers."""

from __future__ import annotations

from indexer.extract.ooxml import TableCell, table_lines

from .conftest import ROW


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
