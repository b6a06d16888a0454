"""Where many passages are embedded: ONNX Runtime, or PyTorch in bfloat16 on processors made for it.

ONNX Runtime runs the model in float32 on the CPU. A processor with bfloat16 instructions (AVX-512 BF16
or AMX, as on AMD Zen 4 and Intel Sapphire Rapids) runs it about twice as fast in bfloat16 through
PyTorch's oneDNN kernels, with vectors within cosine 0.9999 of float32 (all-MiniLM-L6-v2 on SciFact:
43 against 21 passages/s on 2 cores, nDCG@10 unchanged; README, "Speed"). Questions stay on ONNX Runtime
in float32: one question is too short for the difference to pay, and the search path never imports PyTorch.

PyTorch costs seconds to import and half a gigabyte of memory, so it is loaded only by a process that is
indexing in bulk (``TORCH_AFTER`` passages embedded in batches), in a background thread while ONNX Runtime
carries on; a ``kb add`` of one report never waits for it. ``KB_BULK_RUNTIME`` chooses: ``auto`` (that),
``onnx`` (never PyTorch) or ``torch-bf16`` (PyTorch in bfloat16 from the first batch, whatever the processor).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from .settings import BULK_RUNTIMES, read

__all__ = ["BULK_RUNTIMES", "BulkRuntime", "TorchBfloat16", "native_bfloat16", "quiet_transformers", "TORCH_AFTER"]

log = logging.getLogger(__name__)

#: Passages a process embeds in batches before ``auto`` loads PyTorch: about what ONNX Runtime embeds in
#: the ten seconds loading takes, so a single report is never slowed and a whole collection gains.
TORCH_AFTER = 256
#: Batches go to PyTorch padded to a multiple of this many tokens (see ``TorchBfloat16.hidden``).
_LENGTH_STEP = 16
#: The CPU flags (Linux's names) of instructions that compute in bfloat16.
_BFLOAT16_FLAGS = {"avx512_bf16", "amx_bf16"}

#: The model's last hidden state for (input_ids, attention_mask).
Hidden = Callable[[np.ndarray, np.ndarray], np.ndarray]


def native_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this processor has bfloat16 instructions (False where ``cpuinfo`` cannot be read)."""
    try:
        with cpuinfo.open(encoding="utf-8", errors="replace") as lines:
            flags = next((line for line in lines if line.startswith("flags")), "")
    except OSError:
        return False
    return bool(_BFLOAT16_FLAGS & set(flags.partition(":")[2].split()))


def quiet_transformers() -> None:
    """Silence the per-load progress bars and notices of transformers; our own bar reports progress."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)


class TorchBfloat16:
    """A sentence-transformers model's transformer on PyTorch, computing in bfloat16, one thread per call.

    Calls from several threads run side by side, one per core, as ONNX Runtime's bulk sessions do.
    """

    def __init__(self, location: str):
        import torch

        quiet_transformers()
        torch.set_num_threads(1)  # one core per call; the caller runs a call per core
        self._torch = torch
        self._transformer = _transformer(location).eval()

    def hidden(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The last hidden state, as float32, for a tokenised batch."""
        torch = self._torch
        # oneDNN prepares its kernels once per input shape: padding to a multiple of 16 tokens (masked, so the
        # vectors do not change) leaves 16 lengths instead of 256 to prepare (the first 500 passages 10% faster).
        length = input_ids.shape[1]
        padding = ((0, 0), (0, -length % _LENGTH_STEP))
        input_ids, padded_mask = np.pad(input_ids, padding), np.pad(mask, padding)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            output = self._transformer(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(padded_mask))
        return output.last_hidden_state[:, :length].float().numpy()


def _transformer(location: str):
    """The transformer of the sentence-transformers model at ``location``.

    From its folder with transformers alone where ``modules.json`` says where it is (importing
    sentence-transformers takes 3 of the 6 seconds loading costs), else through sentence-transformers.
    """
    modules = Path(location) / "modules.json"
    try:
        first = json.loads(modules.read_text(encoding="utf-8"))[0]
    except (OSError, ValueError, IndexError, KeyError):
        first = {}
    if str(first.get("type", "")).endswith("models.Transformer"):
        from transformers import AutoModel

        return AutoModel.from_pretrained(str(Path(location) / first.get("path", "")))
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(location, device="cpu")[0].auto_model


class BulkRuntime:
    """Chooses, batch by batch, what runs the model when a process embeds many passages.

    Args:
        location: the sentence-transformers model the ONNX file was exported from (None: ONNX Runtime only).
        choice: one of ``BULK_RUNTIMES``; default: the ``KB_BULK_RUNTIME`` setting.
        load: makes the PyTorch model from ``location`` (tests give a fake).
        bfloat16: whether the processor has bfloat16 instructions; default: ``native_bfloat16()``.
    """

    def __init__(self, location: str | None, choice: str | None = None, load: Callable[[str], TorchBfloat16] | None = None,
                 bfloat16: bool | None = None):
        choice = choice or read("KB_BULK_RUNTIME")
        if choice not in BULK_RUNTIMES:
            raise ValueError(f"bulk runtime must be one of {', '.join(BULK_RUNTIMES)}, not {choice!r}")
        wanted = choice == "torch-bf16" or (choice == "auto" and (native_bfloat16() if bfloat16 is None else bfloat16))
        self._location = location if wanted and importlib.util.find_spec("torch") is not None else None
        self._load = load or TorchBfloat16
        self._after = 0 if choice == "torch-bf16" else TORCH_AFTER
        self._embedded = 0
        self._loading: Future | None = None
        self._announced = False
        self._lock = threading.Lock()

    def expect(self, passages: int) -> None:
        """A job of about ``passages`` is coming: with more than ``TORCH_AFTER`` PyTorch starts loading now."""
        if self._location is not None and passages > self._after:
            with self._lock:
                self._start_loading()

    def _start_loading(self) -> None:
        """Load PyTorch's model in a background thread, once (call with the lock held)."""
        if self._loading is None:
            loader = ThreadPoolExecutor(1, thread_name_prefix="kb-torch-load")
            self._loading = loader.submit(self._load, self._location)
            loader.shutdown(wait=False)  # its one thread ends when the model is loaded

    def torch_hidden(self, passages: int) -> Hidden | None:
        """PyTorch's forward pass once it is loaded, else None (run ONNX Runtime); counts ``passages``.

        With ``torch-bf16`` the first call waits for PyTorch to load; with ``auto`` none does.
        """
        if self._location is None:
            return None
        with self._lock:
            self._embedded += passages
            if self._embedded > self._after:
                self._start_loading()
            loading = self._loading
        if loading is None or not (loading.done() or self._after == 0):
            return None
        try:
            model = loading.result()
        except Exception as error:  # no PyTorch after all, a model it cannot load: ONNX Runtime always works
            log.warning("embedding on ONNX Runtime: PyTorch in bfloat16 could not load %s (%s)", self._location, error)
            self._location = None
            return None
        if not self._announced:
            self._announced = True
            log.info("embedding in bulk on PyTorch in bfloat16 (KB_BULK_RUNTIME=onnx keeps ONNX Runtime)")
        return model.hidden
