"""Plain-text extraction: decoding with the first encoding that fits."""

from __future__ import annotations

from indexer import extract


def test_plain_text_in_cp1252_is_decoded(tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes("Café costs 5 €\r\n“quoted” – done".encode("cp1252"))
    extracted = extract(path)
    assert extracted.format == "text"
    assert extracted.sections[0].text == "Café costs 5 €\n“quoted” – done"
    assert extracted.title == "Café costs 5 €"
