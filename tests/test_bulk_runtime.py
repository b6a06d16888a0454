"""What embeds passages in bulk: ONNX Runtime, or PyTorch in bfloat16 once a process indexes many."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from indexer.bulk_runtime import TORCH_AFTER, BulkRuntime, native_bfloat16
from indexer.embed import expect_passages


class FakeTorchModel:
    """Stands in for ``TorchBfloat16``: records its location, answers with zeros."""

    def __init__(self, location: str, release: threading.Event | None = None):
        if release is not None:
            release.wait(5)
        self.location = location

    def hidden(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.zeros((*input_ids.shape, 4), dtype=np.float32)


def wait_for_load(runtime: BulkRuntime) -> None:
    runtime._loading.exception(timeout=5)  # the background load has ended, however it ended


def test_native_bfloat16_reads_the_processors_flags(tmp_path: Path):
    with_bf16 = tmp_path / "zen4"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n")
    without = tmp_path / "zen3"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n")
    amx = tmp_path / "sapphire"
    amx.write_text("flags\t\t: avx512f amx_bf16 amx_tile\n")
    assert native_bfloat16(with_bf16) and native_bfloat16(amx)
    assert not native_bfloat16(without)
    assert not native_bfloat16(tmp_path / "missing")


def test_onnx_never_loads_pytorch():
    loaded = []
    runtime = BulkRuntime("model", choice="onnx", load=loaded.append, bfloat16=True)
    assert all(runtime.torch_hidden(1000) is None for _ in range(3))
    assert loaded == []


def test_without_a_model_location_only_onnx_runtime_runs():
    runtime = BulkRuntime(None, choice="torch-bf16", load=FakeTorchModel)
    assert runtime.torch_hidden(1000) is None


def test_auto_without_bfloat16_instructions_stays_on_onnx_runtime():
    runtime = BulkRuntime("model", choice="auto", load=FakeTorchModel, bfloat16=False)
    assert runtime.torch_hidden(10 * TORCH_AFTER) is None
    assert runtime._loading is None


def test_auto_loads_pytorch_in_the_background_after_enough_passages():
    release = threading.Event()
    runtime = BulkRuntime("model", choice="auto", load=lambda where: FakeTorchModel(where, release), bfloat16=True)
    assert runtime.torch_hidden(TORCH_AFTER) is None
    assert runtime._loading is None, "a report's worth of passages does not load PyTorch"
    assert runtime.torch_hidden(1) is None, "loading has started; ONNX Runtime carries on meanwhile"
    release.set()
    wait_for_load(runtime)
    hidden = runtime.torch_hidden(64)
    assert hidden is not None
    assert hidden(np.zeros((2, 3), dtype=np.int64), np.ones((2, 3), dtype=np.int64)).shape == (2, 3, 4)


def test_a_large_job_announced_loads_pytorch_before_its_first_batch():
    runtime = BulkRuntime("model", choice="auto", load=FakeTorchModel, bfloat16=True)
    runtime.expect(TORCH_AFTER)
    assert runtime._loading is None, "no larger than a report: not worth loading PyTorch"
    runtime.expect(5183)
    wait_for_load(runtime)
    assert runtime.torch_hidden(16) is not None, "the first batch already runs on PyTorch"


def test_expect_passages_reaches_an_embedder_that_listens_and_skips_one_that_does_not(fake_embedder):
    heard = []

    class Listening:
        def expect_passages(self, count: int) -> None:
            heard.append(count)

    expect_passages(Listening(), 900)
    expect_passages(fake_embedder, 900)
    assert heard == [900]


def test_torch_bf16_waits_for_pytorch_from_the_first_batch():
    runtime = BulkRuntime("model", choice="torch-bf16", load=FakeTorchModel, bfloat16=False)
    hidden = runtime.torch_hidden(32)
    assert hidden is not None and hidden.__self__.location == "model"


def test_a_model_pytorch_cannot_load_leaves_onnx_runtime_in_charge(caplog):
    def broken(location: str):
        raise OSError(f"no weights in {location}")

    runtime = BulkRuntime("some/model", choice="torch-bf16", load=broken)
    with caplog.at_level(logging.WARNING, logger="indexer.bulk_runtime"):
        assert runtime.torch_hidden(32) is None
    assert "could not load some/model" in caplog.text and "no weights" in caplog.text
    assert runtime.torch_hidden(32) is None


@pytest.mark.parametrize("env, raw, allowed", [("KB_BULK_RUNTIME", "gpu", "auto or onnx or torch-bf16"),
                                               ("KB_HYBRID_QUESTIONS", "int4", "fp32 or int8")])
def test_an_unknown_setting_is_refused_by_name_not_swallowed(monkeypatch, env, raw, allowed):
    from indexer.embed import load_embedder
    from indexer.errors import InvalidSetting

    monkeypatch.setenv(env, raw)
    with pytest.raises(InvalidSetting, match=f"{env} must be {allowed}, not '{raw}'"):
        load_embedder("all-MiniLM-L6-v2")


def test_an_unknown_choice_is_refused():
    with pytest.raises(ValueError, match="auto, onnx, torch-bf16"):
        BulkRuntime("model", choice="gpu")


@pytest.mark.slow
def test_bfloat16_passages_match_onnx_runtime_fp32(monkeypatch):
    """The real model on PyTorch in bfloat16 gives the vectors ONNX Runtime gives in fp32, to cosine 0.999."""
    from indexer.embed import load_embedder, resolve_model
    from indexer.onnx_runtime import cached_encoder

    load_embedder("all-MiniLM-L6-v2")  # exports the model where this machine has not yet
    location = resolve_model("all-MiniLM-L6-v2")
    texts = [f"Passage {number}: the informal economy of Zambia covers {number} thousand construction workers, "
             f"most without social protection." for number in range(48)]
    monkeypatch.setenv("KB_BULK_RUNTIME", "onnx")
    onnx_vectors = cached_encoder(location).encode(texts, 16)
    monkeypatch.setenv("KB_BULK_RUNTIME", "torch-bf16")
    encoder = cached_encoder(location)
    bfloat16_vectors = encoder.encode(texts, 16)
    assert encoder._bulk._loading is not None and encoder._bulk._loading.result() is not None
    assert bfloat16_vectors.shape == onnx_vectors.shape
    assert float((bfloat16_vectors * onnx_vectors).sum(axis=1).min()) > 0.999
    assert not np.array_equal(bfloat16_vectors, onnx_vectors), "PyTorch in bfloat16 ran, not ONNX Runtime"


class ReadyAfterFirstBatch:
    """A ``BulkRuntime`` whose PyTorch (giving zeros) finishes loading while a call's first batch runs on ONNX Runtime."""

    def __init__(self):
        self.asked = 0

    def torch_hidden(self, passages: int):
        self.asked += 1
        return None if self.asked == 1 else self.zeros

    @staticmethod
    def zeros(input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.zeros((*input_ids.shape, 384), dtype=np.float32)


@pytest.mark.slow
def test_batches_move_to_pytorch_as_soon_as_it_has_loaded_within_one_call():
    """A build's first call need not run wholly on ONNX Runtime because PyTorch was still loading when it began."""
    from indexer.embed import load_embedder, resolve_model
    from indexer.onnx_runtime import cached_encoder

    load_embedder("all-MiniLM-L6-v2")  # exports the model where this machine has not yet
    encoder = cached_encoder(resolve_model("all-MiniLM-L6-v2"))
    encoder._bulk = ReadyAfterFirstBatch()
    encoder._cores = 2  # one batch per core, as on the machines this is built for
    vectors = encoder.encode([f"Passage {number} on social protection." for number in range(64)], 16)
    from_onnx = int((np.linalg.norm(vectors, axis=1) > 0.5).sum())  # the fake PyTorch model gives zero vectors
    assert encoder._bulk.asked == 4, "asked batch by batch, not once per call"
    assert from_onnx == 16, "the first batch ran on ONNX Runtime, the other three on PyTorch"
