"""Evaluation and benchmarking: answer quality (``kb eval``) and speed (``kb bench``, ``--compare``)."""
