"""Property-based tests from the OpenAPI description (Schemathesis) against a real gunicorn server.

The server runs ``kb serve`` on 127.0.0.1 over a few small files indexed with the real model, with an admin
token, so the write API is fuzzed too. Every operation of ``/api/openapi.json`` gets generated requests, valid
and invalid; each answer must not be a 500, must be one the description declares (status, content type, headers,
body schema), and every error of ``/api/`` must be the one shape. Schemathesis's own checks also send undeclared
methods (405 with ``Allow``) and writes without the token (401). What the fuzzing found is listed in the README
("The API contract and fuzzing"); each fix has its own unit test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from indexer.settings import read
from search_app import gunicorn_conf
from search_app.openapi import openapi_spec

from .conftest import free_port, make_pdf

pytestmark = pytest.mark.slow
KB = [sys.executable, "-m", "indexer"]
TOKEN = "fuzz-token"
#: Few examples per operation (and sequences of links) and a deadline per example keep the run to a few minutes;
#: FUZZ_EXAMPLES=200 searches deeper.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 25))
MAX_QUERY_CHARS = read("KB_MAX_QUERY_CHARS")  # as the server, started with this environment, reads it
SCHEMATHESIS_CONFIG = {
    "headers": {"Authorization": f"Bearer {TOKEN}"},
    "request-timeout": 60,
    "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "database": "none"},
    # Stateful sequences follow the description's links only: links inferred from responses would, for example,
    # remove the first listed document, and so change what the next sequence sees.
    "phases": {"stateful": {"inference": {"algorithms": []}}},
    "operations": [{
        # Whether a file can be read is in its bytes, which no schema describes: a valid-looking upload may be
        # refused for its content (its type, no text, damaged) or, for a date like 2017-02-30, its fields.
        "include-operation-id": "addDocument",
        # And a form sends every value as text: a "wrong type" (an object for a text field) arrives as valid text.
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", 400, 401, 403, 409, 413, 415, 422]},
                   "negative_data_rejection": {"enabled": False}},
    }],
}



@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A PDF, a Markdown note and a text file, indexed with the real model."""
    corpus = tmp_path_factory.mktemp("fuzz-corpus")
    make_pdf(corpus / "pensions.pdf", ["Old-age pensions in China: the rural scheme of 2009.",
                                       "Coverage grew with household registration."], title="China pensions note")
    (corpus / "monotributo.md").write_text("# Monotributo\n\nArgentina merges tax and social security in one payment.\n")
    (corpus / "zambia.txt").write_text("Domestic workers in Zambia rarely have written contracts.\n")
    data = tmp_path_factory.mktemp("fuzz-data")
    done = subprocess.run([*KB, "index", str(corpus), "--data-dir", str(data)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return data


@pytest.fixture(scope="module")
def server(data_dir, tmp_path_factory):
    """``kb serve`` (gunicorn, one worker) with the admin token; its log is printed when a test fails."""
    port = free_port()
    log = tmp_path_factory.mktemp("fuzz-log") / "server.log"
    # The read API's rate limit is off: the fuzzer's bursts are no abuse (test_openapi.py produces its 429).
    env = {**os.environ, "KB_ADMIN_TOKEN": TOKEN, "KB_RATE_LIMIT": "off"}
    with log.open("wb") as sink:
        process = subprocess.Popen([*KB, "serve", "--port", str(port), "--workers", "1", "--data-dir", str(data_dir)],
                                   stdout=subprocess.DEVNULL, stderr=sink, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=30):
                break
        except (urllib.error.URLError, ConnectionError):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not answer within 120 s"
            time.sleep(0.5)
    yield base, log
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


@schemathesis.check
def errors_have_the_one_shape(ctx, response, case):
    """Every response has a request id; every error of ``/api/`` is ``{"error": {"code", "message"}}``
    (a 500 adds ``request_id``, the same as the header)."""
    assert response.headers.get("x-request-id"), "no X-Request-Id header"
    if response.status_code < 400 or not case.formatted_path.startswith("/api/"):
        return None
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, f"not the error shape: {body!r}"
    expected = {"code", "message", "request_id"} if response.status_code == 500 else {"code", "message"}
    assert set(body["error"]) == expected, f"error keys {sorted(body['error'])}, not {sorted(expected)}"
    if response.status_code == 500:
        assert body["error"]["request_id"] == response.headers["x-request-id"]
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return None


# The description the server serves (tests/test_openapi.py checks they are the same), loaded without a server
# so that each operation is a test of its own; requests go to the server started for the module.
schema = schemathesis.openapi.from_dict(openapi_spec(MAX_QUERY_CHARS), config=schemathesis.Config.from_dict(SCHEMATHESIS_CONFIG))


@schema.hook
def filter_query(ctx, query):
    """Leave out query strings longer than gunicorn takes (it answers those itself, with an HTML 414, before the app).
    A question of KB_MAX_QUERY_CHARS characters in any script fits (test_gunicorn_conf.py); a pile of long filters may not."""
    return not query or len(urlencode(query, doseq=True)) <= gunicorn_conf.limit_request_line - 100  # method, path, version


@schema.parametrize()
@settings(deadline=30_000, suppress_health_check=list(HealthCheck), max_examples=MAX_EXAMPLES, database=None)
def test_every_operation_keeps_its_contract(case, server):
    base, log = server
    try:
        case.call_and_validate(base_url=base, additional_checks=[errors_have_the_one_shape])
    except Exception:
        print(log.read_text(errors="replace")[-6000:])  # the server's side of a failure (tracebacks of 500s)
        raise


def test_linked_operations_keep_their_contract(server):
    """Sequences that follow the description's links: add a file, then read, edit or remove what was added
    (or the first listed document); a removed document must be gone (Schemathesis's use-after-free check)."""
    base, log = server

    class Workflow(schema.as_state_machine()):
        def before_call(self, case):
            # Each upload unique: replayed, a scenario gets the same answers (201, not 409 for the copy it added before),
            # as Hypothesis requires of a state machine.
            if case.operation.label == "POST /api/documents" and isinstance(case.body, dict) and "file" in case.body:
                content = case.body["file"]
                case.body["file"] = (content if isinstance(content, bytes) else str(content).encode()) + f"\n{uuid.uuid4()}".encode()

        def get_call_kwargs(self, case):
            return {"base_url": base}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            super().validate_response(response, case, additional_checks=[errors_have_the_one_shape], **kwargs)

    try:
        Workflow.run(settings=settings(max_examples=MAX_EXAMPLES, stateful_step_count=6, deadline=30_000,
                                       suppress_health_check=list(HealthCheck), database=None))
    except Exception:
        print(log.read_text(errors="replace")[-6000:])
        raise


def test_the_longest_question_in_any_script_is_answered(server):
    # Found by fuzzing: gunicorn's default request-line limit refused a long question in a non-Latin script (HTML 414).
    base, _ = server
    for character in ("\u0e1a", "\U0001d4e3"):  # Thai (9 bytes percent-encoded), a 4-byte character (12 bytes)
        with urllib.request.urlopen(f"{base}/api/search?q={quote(character * MAX_QUERY_CHARS)}&k=1", timeout=60) as response:
            assert response.status == 200
