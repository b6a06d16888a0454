"""Reading evaluation datasets: corpus questions by split, BEIR queries and judgments, BEIR records."""

from __future__ import annotations

import json

import pytest

from indexer import DatasetError, Location, TextRecord
from indexer.evaluation.eval_sets import beir_records, load_beir, load_questions, location_key

from .conftest import make_beir


def test_location_keys_name_page_slide_or_section():
    assert location_key("a.pdf", Location(page=3, page_label="iii")) == "a.pdf#page=3"
    assert location_key("b.pptx", Location(slide=2)) == "b.pptx#slide=2"
    assert location_key("c.docx", Location(section="Domestic workers")) == "c.docx#section=Domestic workers"


def test_questions_file_by_split(tmp_path):
    path = tmp_path / "questions.jsonl"
    rows = [
        {"id": "d1", "question": "q?", "split": "dev", "relevant": [{"file": "a.pdf", "page": 2, "grade": 2}]},
        {"id": "t1", "question": "r?", "split": "test", "relevant": [{"file": "b.pptx", "slide": 1, "grade": 1}]},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    assert load_questions(path, "test").qrels == {"t1": {"b.pptx#slide=1": 1}}
    assert set(load_questions(path, "all").queries) == {"d1", "t1"}


def test_malformed_questions_name_the_line(tmp_path):
    path = tmp_path / "questions.jsonl"
    path.write_text('{"id": "x", "question": "q", "split": "dev"}\n')
    with pytest.raises(DatasetError, match="line 1"):
        load_questions(path, "dev")


def test_beir_loader_keeps_judged_queries(tmp_path):
    folder = make_beir(tmp_path / "tinyfact")
    with open(folder / "queries.jsonl", "a", encoding="utf-8") as queries:
        queries.write(json.dumps({"_id": "q5", "text": "not judged"}) + "\n")
    eval_set = load_beir(folder, "test")
    assert (eval_set.name, sorted(eval_set.queries)) == ("tinyfact", ["q1", "q2", "q3", "q4"])
    assert eval_set.qrels["q1"] == {"d1": 1}
    with pytest.raises(DatasetError, match="qrels/dev.tsv"):
        load_beir(folder, "dev")


def test_beir_records_are_text_records_in_file_order(tmp_path):
    folder = make_beir(tmp_path / "tinyfact")
    records = beir_records(folder)
    assert len(records) == 30 and all(isinstance(record, TextRecord) for record in records)
    assert (records[0].key, records[0].title) == ("d0", "pension in Thailand")
    (folder / "corpus.jsonl").write_text(json.dumps({"title": "no id"}) + "\n")
    with pytest.raises(DatasetError, match="has no '_id'"):
        beir_records(folder)


def test_questions_carry_their_kind_and_language(tmp_path):
    path = tmp_path / "questions.jsonl"
    rows = [
        {"id": "k1", "question": "pension Zambia", "split": "dev", "kind": "keywords", "language": "en",
         "relevant": [{"file": "a.pdf", "page": 2, "grade": 2}]},
        {"id": "f1", "question": "Quelle pension ?", "split": "dev", "kind": "question", "language": "fr",
         "relevant": [{"file": "a.pdf", "page": 2, "grade": 2}]},
        {"id": "q1", "question": "Which pension?", "split": "dev", "relevant": [{"file": "a.pdf", "page": 1, "grade": 1}]},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    labels = load_questions(path, "dev").labels
    assert labels == {"k1": {"kind": "keywords", "language": "en"}, "f1": {"kind": "question", "language": "fr"}, "q1": {}}
    # A BEIR folder's questions say nothing about themselves.
    assert load_beir(make_beir(tmp_path / "tinyfact"), "test").labels == {}
