"""Evaluation and benchmarking: how good the answers are (``kb eval``) and how fast (``kb bench``).

- ``eval_sets``: read questions and judgments (the corpus questions, BEIR folders) and BEIR records;
- ``metrics``: turn searches into runs and score them (nDCG@10, Recall@10/100, MRR@10, by ranx), overall and
  by kind and language of question;
- ``evaluate``: open a dataset's index, evaluate each mode, save the runs in ``evaluation_dir``;
- ``bench``: warm query latency, and the machine it was measured on;
- ``compare`` and ``compare_report``: ``kb bench --compare``, this project beside ``handwritten``
  (sentence-transformers + FAISS + bm25s) and ``txtai_stack``, with the table and JSON it prints.

Output goes beside the index, never inside it: ``evaluation_dir("var/kb")`` is ``var/kb.eval``.
``compare``, ``handwritten`` and ``txtai_stack`` are not imported here: only ``kb bench --compare`` needs them,
and ``handwritten`` and ``txtai_stack`` also run as scripts in a new process (cold starts), apart from the package.
"""

from .bench import LatencyReport, measure_latency
from .eval_sets import EvalSet
from .evaluate import EvalReport, OpenDataset, evaluation_dir, open_dataset, run_evaluation
from .metrics import METRICS

__all__ = ["METRICS", "EvalSet", "EvalReport", "OpenDataset", "evaluation_dir", "open_dataset", "run_evaluation",
           "LatencyReport", "measure_latency"]
