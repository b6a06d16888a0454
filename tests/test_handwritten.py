"""The hand-written competitor (sentence-transformers + FAISS + bm25s): ranking sanity, fusion math, save and load."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import indexer.evaluation.handwritten
from indexer.evaluation.handwritten import HandwrittenStack, fuse
from indexer.records import TextRecord

RECORDS = [
    TextRecord("pensions", "China pensions", "The rural pension scheme launched in 2009 pays a basic pension to older people."),
    TextRecord("health", "Thailand health", "The Universal Coverage Scheme has financed health care from general taxation since 2002."),
    TextRecord("domestic", "Zambia workers", "Domestic workers rarely have written contracts with the households that employ them."),
    TextRecord("monotributo", "Argentina", "The simplified regime merges tax and social security contributions in one payment."),
]


class TableEncoder:
    """Fixed vectors by text: lets a test decide what the dense side prefers."""

    def __init__(self, table: dict[str, list[float]]):
        self.table = table

    def encode(self, texts, batch_size: int = 16) -> np.ndarray:
        return np.array([self.table[text] for text in texts], dtype=np.float32)


@pytest.fixture
def stack(fake_embedder) -> HandwrittenStack:
    built = HandwrittenStack(fake_embedder)
    built.build(RECORDS)
    return built


@pytest.mark.parametrize("mode", ["keyword", "hybrid", "dense"])
def test_the_record_sharing_the_questions_words_comes_first(stack, mode):
    hits = stack.search("rural pension scheme in China", k=3, mode=mode)
    assert hits[0].doc_id == "pensions"
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_keyword_search_keeps_only_records_holding_a_question_word(stack):
    assert [hit.doc_id for hit in stack.search("domestic contracts", k=10, mode="keyword")] == ["domestic"]
    assert stack.search("the of and", k=10, mode="keyword") == []


def test_build_reports_its_seconds(fake_embedder):
    timing = HandwrittenStack(fake_embedder).build(RECORDS)
    assert timing.encode_seconds >= 0 and timing.index_seconds > 0
    assert timing.seconds == pytest.approx(timing.encode_seconds + timing.index_seconds)


def test_fusion_scales_each_side_over_the_union_and_weighs_them():
    fused = fuse({1: 0.9, 2: 0.5, 3: 0.1}, {1: 2.0, 3: 6.0}, alpha=0.6)
    # dense 1, 0.5, 0; keyword (2 missing: 0) 1/3, 0, 1.
    assert fused == pytest.approx({1: 0.6 + 0.4 / 3, 2: 0.3, 3: 0.4})


def test_fusion_of_a_constant_side_gives_it_no_weight():
    assert fuse({1: 0.5, 2: 0.5}, {}, alpha=0.6) == {1: 0.0, 2: 0.0}


def test_a_record_only_the_keyword_side_found_gets_its_real_dense_score():
    texts = ["a first", "b second", "c gamma", "d gamma gamma"]
    vectors = [[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1]]
    encoder = TableEncoder({**{f"{text.split()[0]} {text}": vector for text, vector in zip(texts, vectors)}, "gamma": [1, 0]})
    stack = HandwrittenStack(encoder, depth=2)
    stack.build([TextRecord(text.split()[0], text.split()[0], text) for text in texts])
    keyword = {hit.doc_id: hit.score for hit in stack.search("gamma", k=4, mode="keyword")}
    assert set(keyword) == {"c", "d"} and keyword["d"] > keyword["c"]
    hybrid = {hit.doc_id: hit.score for hit in stack.search("gamma", k=4, mode="hybrid")}
    # Dense over the union: a 1, b 0.8, c 0.6 (computed: c is not in the dense top 2), d 0, already spanning 0..1.
    assert hybrid["c"] == pytest.approx(0.6 * 0.6 + 0.4 * keyword["c"] / keyword["d"], abs=1e-5)
    assert hybrid["a"] == pytest.approx(0.6) and hybrid["d"] == pytest.approx(0.4)


def test_save_and_load_give_the_same_answers(stack, fake_embedder, tmp_path):
    assert stack.save(tmp_path / "saved") >= 0
    loaded = HandwrittenStack.load(tmp_path / "saved", encoder=fake_embedder)
    for mode in ("hybrid", "dense", "keyword"):
        assert loaded.search("health care taxation", k=4, mode=mode) == stack.search("health care taxation", k=4, mode=mode)
    assert (loaded.alpha, loaded.depth) == (stack.alpha, stack.depth)


def test_unknown_mode_is_refused(stack):
    with pytest.raises(ValueError, match="unknown mode"):
        stack.search("pension", mode="semantic")


def test_command_line_answers_one_question_from_a_saved_stack(stack, fake_embedder, tmp_path, monkeypatch, capsys):
    stack.save(tmp_path / "saved")
    monkeypatch.setattr(indexer.evaluation.handwritten, "SentenceTransformerEncoder", lambda path: fake_embedder)
    indexer.evaluation.handwritten.main(["search", str(tmp_path / "saved"), "domestic workers contracts", "-k", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[1] == "domestic"


def test_the_script_runs_on_its_own_from_its_file():
    # As a cold start runs it: -P, by path, so neither the package nor its folder is on the import path.
    command = [sys.executable, "-P", indexer.evaluation.handwritten.__file__, "search", "--help"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "usage: handwritten search" in done.stdout


def test_importing_the_library_leaves_the_competitors_and_pytorch_alone():
    competitors = ", ".join(repr(f"indexer.evaluation.{name}") for name in ("handwritten", "txtai_stack", "compare"))
    competitors += ", 'torch', 'sentence_transformers', 'txtai'"
    code = f"import sys, indexer, indexer.cli; print(sorted(m for m in ({competitors}) if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
