"""HTML and Markdown extraction: sections by heading, noise dropped, entities decoded, tables as rows."""

from __future__ import annotations

from pathlib import Path

from indexer import extract

from .conftest import text_of


def test_markdown_sections_by_heading_and_title_from_first_heading(tmp_path):
    path = tmp_path / "note.md"
    path.write_text("---\nauthor: x\n---\n# Monotributo\n\nOne monthly payment.\n\n## Coverage\n\n- Health\n- Pensions\n",
                    encoding="utf-8")
    extracted = extract(path)
    assert extracted.format == "markdown"
    assert extracted.title == "Monotributo"
    assert [(section.heading, section.text) for section in extracted.sections] == [
        ("Monotributo", "Monotributo\n\nOne monthly payment."),
        ("Coverage", "Coverage\n\nHealth\n\nPensions"),
    ]
    assert extracted.sections[1].location.section == "Coverage"


def test_html_drops_scripts_and_styles_uses_title_and_decodes_entities(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<!doctype html><html><head><title>Caf&eacute; &amp; social security</title><style>p{color:red}</style></head>"
        "<body><script>var secret = 1;</script><p>Intro&nbsp;text &lt;here&gt;</p>"
        "<h2>Cambodia</h2><p>NSSF &ndash; since 2008</p><table><tr><td>a</td><td>b</td></tr></table></body></html>",
        encoding="utf-8",
    )
    extracted = extract(path)
    assert extracted.format == "html"
    assert extracted.title == "Café & social security"
    assert [(section.heading, section.text) for section in extracted.sections] == [
        ("", "Intro text <here>"),
        ("Cambodia", "Cambodia\n\nNSSF – since 2008\n\na · b"),
    ]
    assert "secret" not in str(extracted) and "color" not in str(extracted)


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
