"""gunicorn settings for ``kb serve`` and ``make run``."""

import os

# Each worker loads the model and the index before it takes its first request.
timeout = 120
accesslog = "-"
# The longest request line gunicorn takes (its maximum; the default, 4094 bytes, refused with an HTML 414 a question of
# 500 Thai characters: 9 bytes each once percent-encoded). A question of KB_MAX_QUERY_CHARS = 500 characters of any
# script (at most 12 bytes each) fits, with its filters. Found by fuzzing the API (tests/test_fuzz.py).
limit_request_line = 8190
# gunicorn 24+ opens a control socket (gunicorn.ctl) in the working directory by default; nothing here uses it.
control_socket_disable = True


def post_fork(server, worker):
    """Before the worker loads the app: with several workers, ONNX Runtime's threads must not spin while idle.

    An idle worker's spinning threads take the cores from the one answering (indexer/onnx_runtime.py).
    """
    if server.cfg.workers > 1:
        os.environ.setdefault("KB_ONNX_SPINNING", "0")


def post_worker_init(worker):
    """Warm up the worker's knowledge base so the first question is as fast as the rest."""
    # Imported here: the worker has loaded the app by now, while the master process never loads it.
    from search_app.state import knowledge_base

    knowledge_base(worker.wsgi).warm()
