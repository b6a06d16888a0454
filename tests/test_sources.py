"""Which files to index (indexer/sources.py): folders walked for supported endings, hidden entries and ``.kbignore``
left out, files named directly taken whatever their ending, catalogue fields attached; a file's identity and hash.
(The same through a whole indexing run: test_pipeline.py.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

from indexer.sources import IGNORE_NAME, SourceFile, file_sha256, find_files


def _touch(folder: Path, *names: str) -> Path:
    """Empty files under ``folder`` (subfolders made as needed): finding files never reads them."""
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return folder


def _names(found: list[SourceFile]) -> list[str]:
    return [source.name for source in found]


def test_a_folder_is_walked_for_supported_endings_in_a_stable_order(tmp_path):
    folder = _touch(tmp_path / "corpus", "b.pdf", "a.PPTX", "notes/c.md", "notes/deep/d.docx", "page.html", "figures.xlsx",
                    "data.csv", "README")
    found = find_files([folder])
    assert _names(found) == ["a.PPTX", "b.pdf", "page.html", "notes/c.md", "notes/deep/d.docx"]
    assert found[3].path == folder / "notes" / "c.md"


def test_hidden_files_and_folders_are_left_out(tmp_path):
    folder = _touch(tmp_path / "corpus", "kept.md", ".hidden.md", ".git/notes.md", "sub/.draft.pdf", "sub/kept.pdf")
    assert _names(find_files([folder])) == ["kept.md", "sub/kept.pdf"]


def test_a_kbignore_leaves_out_what_it_names_in_gitignore_syntax(tmp_path):
    folder = _touch(tmp_path / "corpus", "top.md", "keep.pdf", "old.pdf", "drafts/draft.pdf", "notes/kept.md",
                    "notes/old/older.pdf", "notes/important.old.pdf")
    (folder / IGNORE_NAME).write_text("# drafts and top-level notes stay out\ndrafts/\n/*.md\n*old.pdf\n!important.old.pdf\n",
                                      encoding="utf-8")
    assert _names(find_files([folder])) == ["keep.pdf", "notes/important.old.pdf", "notes/kept.md", "notes/old/older.pdf"]


def test_files_named_directly_are_taken_whatever_their_ending(tmp_path):
    folder = _touch(tmp_path, "minutes.log", ".hidden.md", "deck.pptx")
    found = find_files([folder / "minutes.log", folder / ".hidden.md", folder / "deck.pptx"])
    assert _names(found) == ["minutes.log", ".hidden.md", "deck.pptx"]


def test_catalogue_fields_are_attached_by_path_relative_to_the_folder(tmp_path):
    folder = _touch(tmp_path / "corpus", "pensions.pdf", "notes/zambia.md", "other.pdf")
    (folder / "catalog.yaml").write_text("- file: pensions.pdf\n  session: 3\n- file: notes/zambia.md\n  countries: [Zambia]\n",
                                         encoding="utf-8")
    walked = {source.name: source.catalog for source in find_files([folder])}
    assert walked == {"pensions.pdf": {"session": 3}, "other.pdf": {}, "notes/zambia.md": {"countries": ["Zambia"]}}
    assert find_files([folder / "pensions.pdf"])[0].catalog == {"session": 3}


def test_a_file_is_identified_by_its_resolved_path_unless_it_has_a_key(tmp_path, monkeypatch):
    _touch(tmp_path, "report.pdf")
    monkeypatch.chdir(tmp_path)
    on_disk = SourceFile(path=Path("report.pdf"), name="report.pdf")
    assert on_disk.identity == str(tmp_path.resolve() / "report.pdf") and not on_disk.is_upload
    uploaded = SourceFile(path=tmp_path / "report.pdf", name="report.pdf", key="upload:report.pdf")
    assert uploaded.identity == "upload:report.pdf" and uploaded.is_upload
    assert not SourceFile(path=tmp_path / "report.pdf", name="report.pdf", key="custom:report.pdf").is_upload


def test_file_sha256_is_the_hash_of_the_bytes(tmp_path):
    content = b"%PDF-1.7 " + bytes(range(256)) * 5000  # more than one 1 MB block
    (tmp_path / "big.pdf").write_bytes(content)
    (tmp_path / "empty.pdf").write_bytes(b"")
    assert file_sha256(tmp_path / "big.pdf") == hashlib.sha256(content).hexdigest()
    assert file_sha256(tmp_path / "empty.pdf") == hashlib.sha256(b"").hexdigest()
