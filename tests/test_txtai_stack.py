"""The txtai stack of ``kb bench --compare --txtai``: each mode ranks records, save and load, the cold-start command.

Fast tests give txtai the fake embedder as its "external" vectors; the slow one loads the real model as
``kb bench`` does (``default_config``: txtai's default hybrid index over the bundled all-MiniLM-L6-v2).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import indexer.evaluation.txtai_stack
from indexer.embed import DEFAULT_MODEL, resolve_model
from indexer.evaluation.eval_sets import beir_records
from indexer.evaluation.txtai_stack import TxtaiStack, default_config

from .conftest import make_beir

MODES = ("hybrid", "dense", "keyword")


@pytest.fixture
def fake_config(fake_embedder) -> dict:
    """txtai's default hybrid index with the fake embedder's vectors in place of a model."""
    return {"transform": lambda texts: fake_embedder.encode(texts), "hybrid": True}


@pytest.fixture
def records(tmp_path) -> list:
    return beir_records(make_beir(tmp_path / "tinyfact"))


@pytest.fixture
def stack(fake_config, records) -> TxtaiStack:
    built = TxtaiStack.create(fake_config)
    assert built.build(records) > 0
    return built


def assert_ranked(hits, first: str) -> None:
    """``first`` leads, ids are the records', scores fall."""
    assert hits[0].doc_id == first and all(hit.doc_id.startswith("d") for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_ranks_the_record_holding_the_questions_words_first(stack, mode):
    assert_ranked(stack.search("maternity in China", k=5, mode=mode), "d12")


def test_keyword_mode_keeps_only_records_holding_a_question_word(stack):
    assert {hit.doc_id for hit in stack.search("Mongolia", k=30, mode="keyword")} == {"d4", "d9", "d14", "d19", "d24", "d29"}


def test_save_and_load_give_the_same_answers(stack, fake_config, tmp_path):
    assert stack.save(tmp_path / "saved") >= 0
    loaded = TxtaiStack.load(tmp_path / "saved", overrides={"transform": fake_config["transform"]})
    for mode in MODES:
        assert loaded.search("injury Mongolia", k=5, mode=mode) == stack.search("injury Mongolia", k=5, mode=mode)


def test_unknown_mode_is_refused(stack):
    with pytest.raises(ValueError, match="unknown mode"):
        stack.search("pension", mode="semantic")


def test_command_line_answers_one_question_from_a_saved_index(stack, fake_config, tmp_path, monkeypatch, capsys):
    stack.save(tmp_path / "saved")
    load = TxtaiStack.load
    monkeypatch.setattr(TxtaiStack, "load", lambda folder: load(folder, overrides={"transform": fake_config["transform"]}))
    indexer.evaluation.txtai_stack.main(["search", str(tmp_path / "saved"), "injury in Mongolia", "-k", "2", "--mode", "keyword"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[:2] == ["1.", "d19"]


def test_the_script_runs_on_its_own_from_its_file():
    # As a cold start runs it: -P, by path; the hand-written stack's command line is loaded from the file beside it.
    command = [sys.executable, "-P", indexer.evaluation.txtai_stack.__file__, "search", "--help"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "usage: txtai_stack search" in done.stdout


def test_the_comparison_keeps_txtais_defaults_but_the_model():
    assert default_config("/models/minilm") == {"path": "/models/minilm", "hybrid": True}


@pytest.mark.slow
def test_the_real_model_builds_searches_and_answers_from_a_new_process(records, tmp_path):
    built = TxtaiStack.create(default_config(resolve_model(DEFAULT_MODEL)))
    built.build(records)
    built.warm()
    for mode in MODES:
        assert_ranked(built.search("pension in Zambia", k=10, mode=mode), "d1")
    built.save(tmp_path / "saved")
    command = [sys.executable, "-P", indexer.evaluation.txtai_stack.__file__, "search", str(tmp_path / "saved"), "pension in Zambia", "-k", "3"]
    lines = subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(lines) == 3 and lines[0].split()[1] == "d1"
