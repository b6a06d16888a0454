"""End to end with the real bundled model: `kb` in a subprocess and a real gunicorn server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from .conftest import free_port, make_docx, make_pdf, make_pptx

pytestmark = pytest.mark.slow
KB = [sys.executable, "-m", "indexer"]
# A question that shares almost no words with the passage that answers it.
PARAPHRASE = "Do housemaids sign employment agreements with the families they serve?"


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    make_pdf(folder / "pensions.pdf", [
        "Old-age pensions in China. The rural pension scheme launched in 2009 pays a basic pension financed by the government.",
        "Coverage grew quickly because enrolment was linked to household registration and local offices.",
    ], title="China pensions note")
    make_pptx(folder / "thailand.pptx", [
        {"title": "Thailand informal workers", "bullets": ["Section 40 of the Social Security Act", "Voluntary scheme since 2011"]},
        {"title": "Health coverage", "bullets": ["Universal Coverage Scheme from 2002", "Financed by general taxation"]},
    ])
    make_docx(folder / "zambia.docx", {
        "Construction workers": ["Many builders work casually for small contractors and change sites often."],
        "Domestic workers": ["Domestic workers rarely have written contracts with the households that employ them."],
    }, title="Zambia field research")
    return folder


@pytest.fixture(scope="module")
def data_dir(corpus_dir, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("data")
    done = subprocess.run([*KB, "index", str(corpus_dir), "--data-dir", str(data)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "3 indexed" in done.stdout
    return data


def test_cli_ranks_the_paraphrased_answer_first(data_dir):
    done = subprocess.run([*KB, "search", PARAPHRASE, "--json", "-k", "3", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout)["results"][0]
    assert "Domestic workers rarely have written contracts" in first["text"]
    assert first["location"] == {"section": "Domestic workers"}


def test_second_index_run_reembeds_nothing(corpus_dir, data_dir):
    done = subprocess.run([*KB, "index", str(corpus_dir), "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=600)
    assert "0 indexed" in done.stdout and "3 unchanged" in done.stdout



def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module", params=[1, 4], ids=["sync", "gthread"])
def server(data_dir, request):
    """`kb serve` with one worker: sync, or gthread with 4 threads (`--threads 4`)."""
    port = free_port()
    process = subprocess.Popen([*KB, "serve", "--port", str(port), "--workers", "1", "--threads", str(request.param),
                                "--data-dir", str(data_dir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            _get_json(base + "/api/health")
            break
        except (urllib.error.URLError, ConnectionError):
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.5)
    yield base
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    process.stderr.close()


def test_gunicorn_serves_the_paraphrased_answer_first(server):
    body = _get_json(server + "/api/search?" + urllib.parse.urlencode({"q": PARAPHRASE, "k": 3}))
    first = body["results"][0]
    assert "Domestic workers rarely have written contracts" in first["text"]
    assert first["document"]["title"] == "Zambia field research"


def test_gunicorn_serves_pdf_pages_and_health(server):
    body = _get_json(server + "/api/search?" + urllib.parse.urlencode({"q": "how did enrolment spread so fast", "k": 1}))
    assert body["results"][0]["document"]["url"].endswith("#page=2")
    health = _get_json(server + "/api/health")
    assert health == {"ok": True, "documents": 3, "passages": health["passages"], "model": "all-MiniLM-L6-v2",
                      "dimension": 384, "version": health["version"]}


def test_gunicorn_answers_bad_input_with_json_errors(server):
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(server + "/api/search?q=", timeout=30)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["error"]["code"] == "invalid_query"
    caught.value.close()


CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture(scope="module")
def corpus_kb(tmp_path_factory):
    from indexer import KnowledgeBase

    kb = KnowledgeBase(tmp_path_factory.mktemp("corpus-index"))
    report = kb.index([CORPUS])
    assert not report.skipped, report.skipped
    return kb


@pytest.mark.parametrize("acronym, filename", [("CNPJ", "notes/monotributo-formalisation-paper.pdf"),
                                               ("ASCC", "presentations/asean-integration.pdf")])
def test_hybrid_finds_a_rare_acronym_that_dense_misses(corpus_kb, acronym, filename):
    dense = [hit.document.filename for hit in corpus_kb.search(acronym, k=3, mode="dense", per_document=0).hits]
    hybrid = corpus_kb.search(acronym, k=3, mode="hybrid").hits
    assert dense[0] != filename  # the model alone does not put the acronym's document first
    assert hybrid[0].document.filename == filename
    assert acronym in hybrid[0].passage.text


def test_corpus_answers_a_paraphrased_question_from_the_right_country_note(corpus_kb):
    result = corpus_kb.search("Can Thai street vendors get a pension by paying in voluntarily?", k=5)
    assert "notes/thailand-sectoral-schemes.pdf" in [hit.document.filename for hit in result.hits[:3]]
