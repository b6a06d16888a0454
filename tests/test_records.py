"""The typed records (indexer/records.py): how a location is labelled and linked, a text record's hash, and the
reports of an indexing run as ``kb index --report`` writes them. (Locations as the API shows them: test_serialize.py;
``Hit.where``: test_search.py.)"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from indexer.records import FileReport, IndexReport, Location, TextRecord


@pytest.mark.parametrize("location, label", [
    (Location(page=3), "p. 3"),
    (Location(page=3, page_label="iii"), "p. 3 (iii)"),
    (Location(page=3, page_label="3"), "p. 3"),  # a label that only repeats the number is left out
    (Location(slide=4), "slide 4"),
    (Location(section="Domestic workers"), "Domestic workers"),
    (Location(page=2, ocr=True), "p. 2 · read by OCR"),
    (Location(slide=1, ocr=True), "slide 1 · read by OCR"),
    (Location(), ""),
])
def test_a_location_is_described_as_a_page_a_slide_or_a_section(location, label):
    assert location.describe() == label


def test_a_slide_wins_over_a_page_and_a_page_over_a_section():
    both = Location(page=2, slide=5, section="Intro")
    assert both.describe() == "slide 5" and both.to_dict() == {"slide": 5}
    assert Location(page=2, section="Intro").to_dict() == {"page": 2}
    assert Location().to_dict() == {}


@pytest.mark.parametrize("location, fragment", [(Location(page=7), "#page=7"), (Location(slide=7), ""),
                                                (Location(section="Intro"), "")])
def test_only_a_page_gives_a_url_fragment(location, fragment):
    assert location.url_fragment == fragment


def test_records_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Location(page=1).page = 2


def test_a_text_record_is_hashed_by_its_title_and_text():
    record = TextRecord(key="d1", title="Pensions", text="The rural pension scheme.")
    assert record.sha256 == hashlib.sha256(b"Pensions\nThe rural pension scheme.").hexdigest()
    assert TextRecord(key="other", title="Pensions", text="The rural pension scheme.").sha256 == record.sha256
    assert TextRecord(key="d1", title="Health", text="The rural pension scheme.").sha256 != record.sha256


def _report() -> IndexReport:
    indexed = FileReport(path="corpus/zambia.pdf", outcome="indexed", title="Zambia", format="pdf", pages=3, passages=9,
                         ocr_pages=(2,), empty_pages=(3,), language="en", seconds=1.23456, near_duplicates=("zambia.docx",))
    skipped = FileReport(path="corpus/locked.pdf", outcome="skipped", reason="needs a password")
    return IndexReport(indexed=[indexed.path], skipped={skipped.path: skipped.reason}, passages=9, seconds=2.5,
                       files=[indexed, skipped])


def test_an_index_report_lists_each_file_as_json():
    written = _report().to_dict()
    assert json.loads(json.dumps(written)) == written
    assert set(written) == {"summary", "seconds", "passages", "removed", "files"}
    assert written["passages"] == 9 and written["removed"] == []
    first, second = written["files"]
    assert first == {"path": "corpus/zambia.pdf", "outcome": "indexed", "title": "Zambia", "format": "pdf", "pages": 3,
                     "passages": 9, "ocr_pages": [2], "empty_pages": [3], "language": "en", "seconds": 1.235, "reason": "",
                     "near_duplicates": ["zambia.docx"]}
    assert (second["outcome"], second["reason"]) == ("skipped", "needs a password")


def test_the_summary_counts_each_outcome_and_removals_only_when_there_are_some():
    report = _report()
    assert report.summary() == "1 indexed (9 passages), 0 unchanged, 0 duplicate, 1 skipped in 2.5s"
    report.removed.append("corpus/old.pdf")
    assert report.summary() == "1 indexed (9 passages), 0 unchanged, 0 duplicate, 1 skipped, 1 removed in 2.5s"
    assert report.to_dict()["summary"] == report.summary()
