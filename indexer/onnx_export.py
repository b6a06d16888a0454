"""Making what ``onnx_runtime`` runs: a sentence-transformers model exported to ONNX (with PyTorch, once), its int8 copy.

Only the first run of a model comes here; later processes find the export in the cache and never import PyTorch.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["is_mean_pooled", "quantised", "save_tokenizer_and_facts", "export", "fuse", "question_copy", "EXPORT_FORMAT"]

#: Written into the facts file; an export whose facts say otherwise is made again (2: a fused copy may sit beside it;
#: 3: and an int8 copy of that for questions, ``question_copy``).
EXPORT_FORMAT = 3

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
    try:
        with _without_preprocessing_advice():
            quantize_dynamic(str(source), str(temporary), per_channel=True, weight_type=QuantType.QInt8)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    log.info("quantised %s to int8 in %s", source, target)
    return target


@contextmanager
def _without_preprocessing_advice() -> Iterator[None]:
    root = logging.getLogger()
    root.addFilter(_no_preprocessing_advice)
    try:
        yield
    finally:
        root.removeFilter(_no_preprocessing_advice)


def _no_preprocessing_advice(record: logging.LogRecord) -> bool:
    """Drop the quantiser's advice to pre-process the model (shape inference; no gain for this use)."""
    return "pre-processing before quantization" not in record.getMessage()


def save_tokenizer_and_facts(model, tokenizer_file: Path, facts_file: Path, fused: bool = False, questions: bool = False) -> None:
    """Keep the model's fast tokenizer and what running it needs, beside the export (facts last: they mark it complete).

    Args:
        model: the loaded ``SentenceTransformer``.
        tokenizer_file: where its ``tokenizer.json`` goes.
        facts_file: where the facts go: dimension, longest input, padding, prompts, ``EXPORT_FORMAT``, and
            ``fused`` (whether ``fuse`` made a copy to run at fp32) and ``questions`` (whether ``question_copy``
            made one for questions).
    """
    tokenizer = model.tokenizer
    tokenizer.backend_tokenizer.save(str(tokenizer_file))
    facts = {"dimension": int(model.get_embedding_dimension()), "max_length": int(model.max_seq_length),
             "pad_id": int(tokenizer.pad_token_id), "pad_token": str(tokenizer.pad_token), "prompts": dict(model.prompts or {}),
             "format": EXPORT_FORMAT, "fused": fused, "questions": questions}
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
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        _export_to(transformer, tokenizer, temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def fuse(transformer, tokenizer, plain: Path, target: Path) -> bool:
    """Write to ``target`` a copy of the exported BERT-like ``plain`` whose layers are fused ops; say whether it was made.

    Each layer's attention becomes one ``Attention`` op (and its GELU and residual layer norms one op each), which
    embeds a question about 10% faster and passages about 7% (all-MiniLM-L6-v2 on 2 cores; vectors to cosine
    0.99998). ONNX Runtime's transformer optimizer recognises attention only in the graph of the model's "eager"
    attention, so the model is exported once more that way. Nothing is written where it finds no attention to fuse
    (another architecture) or where the copy's outputs differ from ``plain``'s on sample texts.
    """
    from onnxruntime.transformers.optimizer import optimize_model

    config = transformer.config
    eager = target.with_name(f".{target.name}.{os.getpid()}.eager.tmp")
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    previous = config._attn_implementation
    try:
        transformer.set_attn_implementation("eager")
        _export_to(transformer, tokenizer, eager)
        # The optimizer logs a warning per pattern it does not find: noise here, where finding none is a valid outcome.
        logging.disable(logging.WARNING)
        try:
            optimized = optimize_model(str(eager), model_type="bert", num_heads=int(getattr(config, "num_attention_heads", 0)),
                                       hidden_size=int(getattr(config, "hidden_size", 0)), opt_level=1)
        finally:
            logging.disable(logging.NOTSET)
        if not optimized.get_fused_operator_statistics().get("Attention"):
            return False
        optimized.save_model_to_file(str(temporary))
        if not _same_outputs(plain, temporary, tokenizer):
            log.warning("the fused copy of %s gives other vectors; running the plain export", plain)
            return False
        os.replace(temporary, target)
        return True
    finally:
        transformer.set_attn_implementation(previous)
        eager.unlink(missing_ok=True)
        temporary.unlink(missing_ok=True)


def question_copy(fused: Path, target: Path, tokenizer) -> bool:
    """Write to ``target`` an int8 copy of the fused export ``fused``, to embed questions for hybrid search; say whether it was made.

    Weights of every ``MatMul`` and ``Attention`` op are quantised per channel (activations at run time): a question
    takes 2.1 ms instead of 4.7 (all-MiniLM-L6-v2, 2 cores), its vector within cosine 0.99 of the fp32 one, which moves
    hybrid nDCG@10 by -0.0004 on SciFact train and -0.0015 on the corpus dev questions (passages stay fp32).
    Nothing is written where the copy's sentence vectors fall below cosine 0.98 of the fused export's on sample texts.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    typed = target.with_name(f".{target.name}.{os.getpid()}.typed.tmp")
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        onnx.save(_with_output_types(onnx.load(str(fused))), str(typed))
        with _without_preprocessing_advice():
            quantize_dynamic(str(typed), str(temporary), per_channel=True, weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul", "Attention"])
        if _sentence_cosines(fused, temporary, tokenizer).min() < 0.98:
            log.warning("the int8 copy of %s for questions strays from it; questions run at fp32", fused)
            return False
        os.replace(temporary, target)
        return True
    finally:
        typed.unlink(missing_ok=True)
        temporary.unlink(missing_ok=True)


def _with_output_types(model):
    """``model`` with a type for every node output: the quantiser needs them, and ONNX's shape inference
    leaves out the outputs of ONNX Runtime's fused ops (all float, but the mask index of ``EmbedLayerNormalization``)."""
    from onnx import TensorProto, helper, shape_inference

    model = shape_inference.infer_shapes(model)
    graph = model.graph
    typed = {value.name for value in (*graph.value_info, *graph.input, *graph.output)} | {init.name for init in graph.initializer}
    for node in graph.node:
        for position, name in enumerate(node.output):
            if name and name not in typed:
                kind = TensorProto.INT32 if node.op_type == "EmbedLayerNormalization" and position == 1 else TensorProto.FLOAT
                graph.value_info.append(helper.make_tensor_value_info(name, kind, None))
    return model


#: Texts both copies of an export must agree on (padded as a batch, one longer than the other).
_SAMPLE = ["an example sentence", "How can herders in Mongolia get maternity benefits under the social insurance law?"]


def _same_outputs(first: Path, second: Path, tokenizer) -> bool:
    """Whether two ONNX files give the same token vectors (cosine > 0.9999 for every real token) on ``_SAMPLE``."""
    import numpy as np

    inputs, mask = _sample_inputs(tokenizer)
    outputs = _outputs((first, second), inputs)
    real = mask.astype(bool)
    a, b = outputs[0][real], outputs[1][real]
    cosine = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return bool(cosine.min() > 0.9999)


def _sentence_cosines(first: Path, second: Path, tokenizer):
    """Cosines between the mean-pooled vectors two ONNX files give each of ``_SAMPLE``."""
    import numpy as np

    inputs, mask = _sample_inputs(tokenizer)
    pooled = [(output * mask[..., None]).sum(axis=1) for output in _outputs((first, second), inputs)]
    a, b = pooled
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _sample_inputs(tokenizer):
    import numpy as np

    tokens = tokenizer(_SAMPLE, padding=True, return_tensors="np")
    inputs = {"input_ids": tokens["input_ids"].astype(np.int64), "attention_mask": tokens["attention_mask"].astype(np.int64)}
    return inputs, inputs["attention_mask"]


def _outputs(paths, inputs) -> list:
    import onnxruntime

    return [onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, inputs)[0] for path in paths]


def _export_to(transformer, tokenizer, temporary: Path) -> None:
    """Run PyTorch's exporter on the transformer into ``temporary``."""
    import torch

    sample = tokenizer(["an example sentence", "another one"], padding=True, return_tensors="pt")
    dynamic = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.inference_mode():
        # The TorchScript exporter warns about tracing details that do not affect this model.
        warnings.simplefilter("ignore")
        torch.onnx.export(_last_hidden_state(transformer.eval()), (sample["input_ids"], sample["attention_mask"]), str(temporary),
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "last_hidden_state": dynamic},
                          dynamo=False, opset_version=17)
