"""Run a model that already is an ONNX file (a folder with one and a ``tokenizer.json``, no sentence-transformers
config), without any export: the settings it needs (longest input, padding, prompts) come from the folder's JSON files."""

from __future__ import annotations

import json
from pathlib import Path

from .onnx_runtime import DEFAULT_MAX_LENGTH, OnnxEncoder, _at_precision, _export_paths, _fast_tokenize, _int8_path, model_prompts

__all__ = ["onnx_model_encoder"]


def onnx_model_encoder(model_file: Path, tokenizer_folder: Path, precision: str = "fp32") -> OnnxEncoder:
    """Run a model that is an ONNX file, with the ``tokenizer.json`` of ``tokenizer_folder``.

    The longest input comes from ``sentence_bert_config.json`` (``max_seq_length``), else
    ``tokenizer_config.json`` (``model_max_length``), else ``config.json`` (``max_position_embeddings``),
    else 256; the padding token from ``tokenizer_config.json`` (``pad_token``), else ``config.json``
    (``pad_token_id``), else ``[PAD]``. The dimension is the last axis of the output for a tiny input.
    At int8 the file is quantised into the cache directory (the model's own folder may be read-only).

    Raises:
        ValueError: the files cannot be read, or the model does not give one vector per token.
    """
    from tokenizers import Tokenizer

    settings = {name: _json_or_empty(tokenizer_folder / name) for name in
                ("sentence_bert_config.json", "tokenizer_config.json", "config.json", "config_sentence_transformers.json")}
    tokenizer = Tokenizer.from_file(str(tokenizer_folder / "tokenizer.json"))
    tokenizer.enable_truncation(_max_length(settings))
    pad_token, pad_id = _padding(tokenizer, settings)
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)  # to the longest text; tokenizer.json may say fixed
    encoder = OnnxEncoder(_at_precision(model_file, precision, _int8_path(_export_paths(str(model_file))[0])),
                          _fast_tokenize(tokenizer), prompts=model_prompts(settings["config_sentence_transformers.json"].get("prompts")))
    output = encoder._hidden(*encoder._tokenize(["dimension"]), encoder._session)
    if output.ndim != 3:
        raise ValueError(f"{model_file.name} gives an output of shape {output.shape}, not one vector per token")
    encoder.dimension = int(output.shape[-1])
    return encoder


def _json_or_empty(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _max_length(settings: dict[str, dict]) -> int:
    candidates = (settings["sentence_bert_config.json"].get("max_seq_length"),
                  settings["tokenizer_config.json"].get("model_max_length"),
                  settings["config.json"].get("max_position_embeddings"))
    for value in candidates:
        # transformers writes a huge number for "no limit".
        if isinstance(value, (int, float)) and 0 < value < 100_000:
            return int(value)
    return DEFAULT_MAX_LENGTH


def _padding(tokenizer, settings: dict[str, dict]) -> tuple[str, int]:
    token = settings["tokenizer_config.json"].get("pad_token")
    if isinstance(token, dict):
        token = token.get("content")
    if isinstance(token, str) and tokenizer.token_to_id(token) is not None:
        return token, int(tokenizer.token_to_id(token))
    pad_id = settings["config.json"].get("pad_token_id")
    if isinstance(pad_id, int) and tokenizer.id_to_token(pad_id) is not None:
        return str(tokenizer.id_to_token(pad_id)), pad_id
    return "[PAD]", int(tokenizer.token_to_id("[PAD]") or 0)
