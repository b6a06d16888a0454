"""Making what ``onnx_runtime`` runs: a sentence-transformers model exported to ONNX (with PyTorch, once), its int8 copy.

Only the first run of a model comes here; later processes find the export in the cache and never import PyTorch.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

__all__ = ["is_mean_pooled", "quantised", "save_tokenizer_and_facts", "export"]

log = logging.getLogger(__name__)


def is_mean_pooled(model) -> bool:
    names = [type(module).__name__ for module in model]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return False
    return model[1].get_config_dict().get("pooling_mode") == "mean"


def quantised(source: Path, target: Path) -> Path:
    """``target``: the int8 copy of the ONNX model ``source``, made (atomically) when missing or older than it.

    Dynamic quantisation with per-channel int8 weights (per-tensor lost too much quality); activations
    are quantised at run time. Needs ``onnx`` and ONNX Runtime, not PyTorch.
    """
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    root = logging.getLogger()
    root.addFilter(_no_preprocessing_advice)
    try:
        quantize_dynamic(str(source), str(temporary), per_channel=True, weight_type=QuantType.QInt8)
        os.replace(temporary, target)
    finally:
        root.removeFilter(_no_preprocessing_advice)
        temporary.unlink(missing_ok=True)
    log.info("quantised %s to int8 in %s", source, target)
    return target


def _no_preprocessing_advice(record: logging.LogRecord) -> bool:
    """Drop the quantiser's advice to pre-process the model (shape inference; no gain for this use)."""
    return "pre-processing before quantization" not in record.getMessage()


def save_tokenizer_and_facts(model, tokenizer_file: Path, facts_file: Path) -> None:
    """Keep the model's fast tokenizer and what running it needs, beside the export (facts last: they mark it complete)."""
    tokenizer = model.tokenizer
    tokenizer.backend_tokenizer.save(str(tokenizer_file))
    facts = {"dimension": int(model.get_embedding_dimension()), "max_length": int(model.max_seq_length),
             "pad_id": int(tokenizer.pad_token_id), "pad_token": str(tokenizer.pad_token), "prompts": dict(model.prompts or {})}
    temporary = facts_file.with_name(f".{facts_file.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(facts), encoding="utf-8")
    os.replace(temporary, facts_file)


def _last_hidden_state(transformer):
    """The transformer as a module with named inputs and one output, which is what the export needs."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask):
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return LastHiddenState()


def export(transformer, tokenizer, target: Path) -> None:
    """Export the transformer with dynamic batch and sequence axes, atomically."""
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    sample = tokenizer(["an example sentence", "another one"], padding=True, return_tensors="pt")
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    dynamic = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.inference_mode():
        # The TorchScript exporter warns about tracing details that do not affect this model.
        warnings.simplefilter("ignore")
        torch.onnx.export(_last_hidden_state(transformer.eval()), (sample["input_ids"], sample["attention_mask"]), str(temporary),
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "last_hidden_state": dynamic},
                          dynamo=False, opset_version=17)
    os.replace(temporary, target)
