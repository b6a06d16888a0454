"""gunicorn settings for ``kb serve`` and ``make run``."""

# Each worker loads the model and the index before it takes its first request.
timeout = 120
accesslog = "-"


def post_worker_init(worker):
    """Warm up the worker's knowledge base so the first question is as fast as the rest."""
    worker.wsgi.extensions["kb"].warm()
