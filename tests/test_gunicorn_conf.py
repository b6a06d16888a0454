"""The gunicorn settings: ONNX Runtime threads stop spinning when workers share the cores."""

from __future__ import annotations

import os
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from indexer.settings import default
from search_app import gunicorn_conf


def server(workers: int) -> SimpleNamespace:
    return SimpleNamespace(cfg=SimpleNamespace(workers=workers))


def test_several_workers_turn_spinning_off(monkeypatch):
    monkeypatch.delenv("KB_ONNX_SPINNING", raising=False)
    gunicorn_conf.post_fork(server(2), worker=None)
    assert os.environ["KB_ONNX_SPINNING"] == "0"


def test_one_worker_leaves_spinning_alone(monkeypatch):
    monkeypatch.delenv("KB_ONNX_SPINNING", raising=False)
    gunicorn_conf.post_fork(server(1), worker=None)
    assert "KB_ONNX_SPINNING" not in os.environ


def test_a_spinning_setting_already_made_is_kept(monkeypatch):
    monkeypatch.setenv("KB_ONNX_SPINNING", "1")
    gunicorn_conf.post_fork(server(4), worker=None)
    assert os.environ["KB_ONNX_SPINNING"] == "1"


@pytest.mark.parametrize("name, value", [("control_socket_disable", True), ("timeout", 120)])
def test_settings(name, value):
    assert getattr(gunicorn_conf, name) == value


@pytest.mark.parametrize("character", ["\U0001d4e3", "\u0e1a", "é", "a"])
def test_the_longest_question_in_any_script_fits_the_request_line(character):
    # Found by fuzzing: gunicorn's default limit (4094 bytes) answered a long non-Latin question with an HTML 414.
    question = character * default("KB_MAX_QUERY_CHARS")
    line = f"GET /api/search?{urlencode({'q': question, 'k': 100, 'mode': 'keyword', 'country': 'Viet Nam'})} HTTP/1.1"
    assert len(line.encode()) <= gunicorn_conf.limit_request_line <= 8190  # 8190: the most gunicorn takes
