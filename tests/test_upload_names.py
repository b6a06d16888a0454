"""Hostile upload names (folders, NUL, control characters, markup, 5,000 characters) are stored safely: the file
lands in the data directory's originals under its hash, the name shown is a short safe one, and the page shows
what people typed escaped."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer import KnowledgeBase
from search_app.admin import upload_name

from .conftest import upload

NOTE = "Quokka islanders received the zebrafinch maternity benefit in 2016, paid through their cooperative.\n"



NAMES = {
    "../../../../etc/cron.d/evil.md": "evil.md",
    "..\\..\\Windows\\System32\\evil.md": "evil.md",
    "/absolute/path/evil.md": "evil.md",
    "re\x00port.md": "report.md",
    "re\x01po\x1b[31mrt\x7f\t.md": "repo31mrt.md",
    "<script>alert(1)<\\script>.md": "script.md",
    "Ünïcode 報告 final.md": "Unicode_final.md",
    "n" * 5000 + ".md": "n" * 120 + ".md",
    "..": "upload",
    "\x00": "upload",
    ".md": "md",
}


@pytest.mark.parametrize("raw, shown", NAMES.items())
def test_upload_names_are_made_safe(raw, shown):
    assert upload_name(raw) == shown


# Over HTTP a backslash is an escape inside the quoted file name (werkzeug's multipart parser, as RFC 7578 quoting
# goes), so a Windows path arrives without its backslashes: still one name, and still made safe.
SENT = {**NAMES, "..\\..\\Windows\\System32\\evil.md": "WindowsSystem32evil.md",
        "<script>alert(1)<\\script>.md": "scriptalert1script.md"}


@pytest.mark.parametrize("raw", list(SENT))
def test_an_upload_under_a_hostile_name_is_stored_in_the_originals_under_its_hash(client, indexed_kb: KnowledgeBase,
                                                                                   tmp_path, upload_dir, raw):
    path = tmp_path / "note.md"
    path.write_text(NOTE, encoding="utf-8")
    outside = sorted(tmp_path.rglob("*"))
    response = upload(client, path, name=raw)
    assert response.status_code == 201, response.get_json()
    document = response.get_json()["document"]
    assert document["filename"] == SENT[raw]
    stored = indexed_kb.document(document["id"])
    assert stored.original == f"originals/{stored.sha256}{Path(SENT[raw]).suffix}"  # its content's hash
    assert (indexed_kb.data_dir / stored.original).read_text(encoding="utf-8") == NOTE
    # Nothing else was written: the only new files are the original and the index's own, inside the data directory.
    added = [new for new in sorted(tmp_path.rglob("*")) if new not in outside and new.is_file()]
    assert added and all(new.is_relative_to(indexed_kb.data_dir) for new in added)
    assert list(upload_dir.iterdir()) == []
    assert client.get(f"/api/documents/{document['id']}").get_json()["filename"] == SENT[raw]


def test_an_upload_without_a_title_of_its_own_is_titled_after_its_name_not_a_temporary_one(client, tmp_path):
    path = tmp_path / "note.md"
    path.write_text(NOTE, encoding="utf-8")  # no heading: the title comes from the name
    document = upload(client, path, name="field-notes_2017.md").get_json()["document"]
    assert document["title"] == "field notes 2017"  # it was "kb upload x1y2z3", from the temporary copy's name


def test_a_5000_character_name_gives_a_short_title_and_name(client, tmp_path):
    path = tmp_path / "note.md"
    path.write_text(NOTE, encoding="utf-8")
    document = upload(client, path, name="Quokka " * 700 + ".md").get_json()["document"]
    assert len(document["filename"]) == 123 and document["filename"].startswith("Quokka_Quokka_")
    assert document["title"] == " ".join(document["filename"][:-3].split("_"))


def test_names_and_titles_are_shown_escaped(client, tmp_path):
    path = tmp_path / "note.md"
    path.write_text(NOTE, encoding="utf-8")
    markup = '<img src=x onerror="alert(1)">'
    response = upload(client, path, name=f"{markup}.md", title=markup)
    document = response.get_json()["document"]
    assert document["title"] == markup  # JSON carries the text as it is: an application/json answer is no page
    assert response.headers["Content-Type"] == "application/json"
    page = client.get("/", query_string={"q": "quokka zebrafinch maternity"}).get_data(as_text=True)
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page  # Jinja escapes it
    assert markup not in page and "onerror=\"" not in page
    assert document["filename"] in page
    assert markup not in client.get("/admin").get_data(as_text=True)  # the admin page lists documents by script,
    # as text nodes (test_admin checks admin.js never inserts markup)
