"""The gunicorn settings: ONNX Runtime threads stop spinning when workers share the cores."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

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
