"""Many readers at once: start gunicorn on an index, fire questions from concurrent clients, report throughput and latency.

Usage: .venv/bin/python scripts/load_test.py --data-dir var/kb [--clients 8] [--duration 60] [-k 10] [--workers 2]
       [--threads 1] [--questions corpus|corpus/eval/questions.jsonl|BEIR_FOLDER|FILE.txt] [--during-add FILE ...]
       [--during-api-writes N_ADD N_REMOVE] [--json]

The script starts its own server (``python -m gunicorn --config python:search_app.gunicorn_conf`` on 127.0.0.1 and a
free port, ``KB_DATA_DIR`` set to the index), waits for ``GET /api/health``, then runs C client threads for T seconds.
Each client keeps one ``http.client`` connection (gunicorn's sync workers close it after every answer; the client then
reconnects, as a browser would) and asks ``GET /api/search?q=QUESTION&k=K`` with the questions in turn. It reports
answered queries per second, p50/p95/p99 latency in milliseconds and errors (an answer other than 200, or no answer).
The clients run on the same machine as the server and take some of its CPU. ``--threads N`` (N > 1) serves with
gunicorn's gthread workers, N threads each, as ``kb serve --threads N`` does.

The server runs with the rate limit off (``KB_RATE_LIMIT=off``): all the clients share one address, and the limit
would answer them 429 within seconds. A load test against a server started otherwise needs the same setting.

``--during-add FILE ...`` writes while the clients read: a background loop adds each file (``kb add FILE``) and removes
it again (``kb remove ID``) until the time is up; the report counts the adds. The files must not be in the index
already (the script refuses them): removing them would take them out of it. The index is as before at the end.

``--during-api-writes N_ADD N_REMOVE`` writes over the HTTP API instead, as an editor would: N_ADD generated notes,
each with its own made-up word, are uploaded (``POST /api/documents`` with an admin token the script gives the server)
and N_REMOVE of them deleted again, the writes spread over the first two thirds of the run. The clients ask for the
notes' words between their questions and log every answer naming a note; the report counts the answers naming a
removed note to a question sent more than 1 s after its DELETE answered (``stale_hits``: there must be none). The
clients go on until the writes are done and 2 s have passed since the last removal; then the remaining notes are
deleted, and the index is as before.

The server is stopped with SIGTERM at the end. The exit status is 1 when a query or a write failed, or a removed
document was answered too late.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the loadtest package beside this script

from loadtest.api_writes import GRACE, ApiWriteLog, Note, api_write_report, clean_up, make_notes, write_over_api  # noqa: E402
from loadtest.cli_writes import WriterLog, add_and_remove, indexed_ids_refusing  # noqa: E402
from loadtest.clients import ClientLog, client_questions, load_questions, percentile, run_client  # noqa: E402
from loadtest.server import PROJECT, Server, get  # noqa: E402

__all__ = ["load_questions", "percentile", "run_load_test", "main", "ApiWrites"]
DEFAULT_QUESTIONS = PROJECT / "corpus" / "eval" / "questions.jsonl"


@dataclass(frozen=True)
class ApiWrites:
    """How many notes ``--during-api-writes`` adds, and how many of them it removes during the run."""

    adds: int
    removes: int


@dataclass
class Writers:
    """The writers of one run, their threads and logs (None: not asked for)."""

    stop: threading.Event
    cli: threading.Thread | None = None
    cli_log: WriterLog | None = None
    api: threading.Thread | None = None
    api_log: ApiWriteLog | None = None


@dataclass(frozen=True)
class Run:
    """What the clients saw, how long they read, and the writers."""

    logs: list[ClientLog]
    seconds: float
    writers: Writers


def start_writers(server: Server, data_dir: Path, during_add: list[Path], notes: list[Note], api_writes: ApiWrites | None,
                  token: str, duration: float) -> Writers:
    """Start the ``kb add`` loop and the API writer that were asked for."""
    writers = Writers(threading.Event())
    if during_add:
        known_ids = indexed_ids_refusing(server.port, during_add)
        writers.cli_log = WriterLog()
        writers.cli = threading.Thread(target=add_and_remove, name="kb-add-remove", daemon=True,
                                       args=(during_add, data_dir, known_ids, writers.stop, writers.cli_log))
    if api_writes is not None:
        writers.api_log = ApiWriteLog()
        writers.api = threading.Thread(target=write_over_api, name="api-writes", daemon=True,
                                       args=(server.port, token, notes, api_writes.removes, duration * 2 / 3,
                                             writers.stop, writers.api_log))
    for thread in (writers.cli, writers.api):
        if thread is not None:
            thread.start()
    return writers


def wait_for_the_end(deadline: float, writers: Writers) -> None:
    """Until the time is up, the API writes are done and 2 s have passed since the last removal."""
    time.sleep(max(0.0, deadline - time.monotonic()))
    if writers.api is not None:
        writers.api.join()
        removals = writers.api_log.removals
        if removals:
            time.sleep(max(0.0, removals[-1].answered_at + GRACE + 1.0 - time.monotonic()))


def read_and_write(server: Server, questions: list[str], clients: int, duration: float, k: int, timeout: float,
                   during_add: list[Path], notes: list[Note], api_writes: ApiWrites | None, token: str) -> Run:
    """The run itself: the clients read while the writers write."""
    watch_above = None
    if api_writes is not None:  # every document added from now on has a higher id (ids are never reused)
        documents = json.loads(get(server.port, "/api/documents")[1])["documents"]
        watch_above = max((document["id"] for document in documents), default=0)
    words = [note.word for note in notes]
    started = time.monotonic()
    writers = start_writers(server, server.data_dir, during_add, notes, api_writes, token, duration)
    stop_reading = threading.Event()
    try:
        with ThreadPoolExecutor(clients, thread_name_prefix="client") as pool:
            futures = [pool.submit(run_client, server.port, client_questions(questions, words, number, clients), k,
                                   stop_reading, timeout, watch_above) for number in range(clients)]
            try:
                wait_for_the_end(started + duration, writers)
            finally:
                stop_reading.set()
            logs = [future.result() for future in futures]
        return Run(logs, time.monotonic() - started, writers)
    finally:  # also on Ctrl-C: the write under way finishes, so the index is left as it was
        writers.stop.set()
        for thread in (writers.cli, writers.api):
            if thread is not None and thread.is_alive():
                thread.join()
        if writers.api_log is not None:
            clean_up(server.port, token, writers.api_log)


def run_load_test(data_dir: Path, questions: list[str], clients: int = 8, duration: float = 60.0, k: int = 10,
                  workers: int = 2, threads: int = 1, during_add: list[Path] | None = None,
                  api_writes: ApiWrites | None = None, timeout: float = 30.0, seed: int = 0) -> dict:
    """Start the server, read (and write) for ``duration`` seconds, stop it; return the report."""
    questions = list(questions)
    random.Random(seed).shuffle(questions)
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="kb-load-notes-") as folder:
        notes = make_notes(Path(folder), api_writes.adds, seed) if api_writes is not None else []
        with Server(data_dir, workers, threads, {"KB_ADMIN_TOKEN": token}) as server:
            run = read_and_write(server, questions, clients, duration, k, timeout, during_add or [], notes, api_writes,
                                 token)
            ready_seconds, worker_class = server.ready_seconds, server.worker_class()
    logs, writers = run.logs, run.writers
    report = read_report(logs, run.seconds) | {
        "clients": clients, "k": k, "workers": workers, "threads": threads, "worker_class": worker_class,
        "questions": len(questions), "server_ready_s": round(ready_seconds, 2), "adds": None, "api_writes": None}
    if writers.cli_log is not None:
        report["adds"] = {"files": [str(path) for path in during_add], "added": writers.cli_log.added,
                          "removed": writers.cli_log.removed, "failures": writers.cli_log.failures}
    if writers.api_log is not None:
        report["api_writes"] = api_write_report(writers.api_log, [sighting for log in logs for sighting in log.sightings])
    return report


def read_report(logs: list[ClientLog], elapsed: float) -> dict:
    """The readers' part of the report: queries, rate, latency percentiles in ms, errors."""
    latencies = sorted(latency for log in logs for latency in log.latencies)
    errors = sum((log.errors for log in logs), Counter())
    return {
        "duration_s": round(elapsed, 2), "queries": len(latencies), "qps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {name: round(1000 * percentile(latencies, fraction), 1)
                       for name, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))}
                      | {"mean": round(1000 * sum(latencies) / len(latencies), 1) if latencies else 0.0,
                         "max": round(1000 * latencies[-1], 1) if latencies else 0.0},
        "errors": sum(errors.values()), "error_kinds": dict(errors),
    }


def format_report(report: dict) -> str:
    latency = report["latency_ms"]
    rows = [
        ("clients", f"{report['clients']} (server: {report['workers']} gunicorn {report['worker_class']} workers"
                    + (f" of {report['threads']} threads" if report["threads"] > 1 else "")
                    + f", ready in {report['server_ready_s']:.2f} s)"),
        ("duration", f"{report['duration_s']:.1f} s, k={report['k']}, {report['questions']} questions"),
        ("queries", str(report["queries"])),
        ("queries/s", f"{report['qps']:.1f}"),
        *[(name, f"{latency[name]:.1f} ms") for name in ("p50", "p95", "p99", "max")],
        ("errors", str(report["errors"]) + (f"  {report['error_kinds']}" if report["errors"] else "")),
    ]
    failures = []
    if report["adds"] is not None:
        adds = report["adds"]
        rows.append(("adds", f"{adds['added']} added and {adds['removed']} removed meanwhile, {len(adds['failures'])} failed"))
        failures += adds["failures"]
    if report["api_writes"] is not None:
        api = report["api_writes"]
        rows.append(("API writes", f"{api['added']} added, {api['removed']} removed meanwhile ({api['removed_seen_before']} "
                                   f"of them answered before), {api['cleaned_up']} removed after, {len(api['failures'])} failed"))
        rows.append(("stale hits", f"{api['stale_hits']} answers named a document removed over {api['grace_s']:g} s before"))
        failures += api["failures"]
    width = max(len(name) for name, _ in rows)
    return "\n".join([f"{name:<{width}}  {value}" for name, value in rows] + [f"  {failure}" for failure in failures])


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    summary, usage, *details = __doc__.split("\n\n")
    parser = argparse.ArgumentParser(description=summary, epilog="\n\n".join(details),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("KB_DATA_DIR", "var/kb"), help="the index to serve (env KB_DATA_DIR)")
    parser.add_argument("--questions", default=str(DEFAULT_QUESTIONS),
                        help="corpus/eval/questions.jsonl, a dataset folder (corpus, a BEIR folder), or a text file")
    parser.add_argument("-c", "--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("-t", "--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("-k", type=int, default=10, help="passages per query (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, as kb serve)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (default 1: sync workers; more: gthread)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a client waits for one answer")
    parser.add_argument("--during-add", nargs="+", metavar="PATH", default=[],
                        help="files to add and remove again in a loop while the clients read")
    parser.add_argument("--during-api-writes", nargs=2, type=int, metavar=("N_ADD", "N_REMOVE"),
                        help="notes to add over the HTTP API while the clients read, and how many of them to remove")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    arguments = parser.parse_args(argv)
    if min(arguments.clients, arguments.duration, arguments.k, arguments.workers, arguments.threads) <= 0:
        parser.error("--clients, --duration, -k, --workers and --threads must be positive")
    writes = arguments.during_api_writes
    if writes is not None and not (writes[0] >= 1 and 0 <= writes[1] <= writes[0]):
        parser.error("--during-api-writes N_ADD N_REMOVE: N_ADD at least 1, N_REMOVE from 0 to N_ADD")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    data_dir = Path(arguments.data_dir).resolve()
    if not (data_dir / "manifest.json").is_file():
        print(f"no index in {data_dir}; build one with `kb index` (make index)", file=sys.stderr)
        return 2
    during_add = [Path(path).resolve() for path in arguments.during_add]
    missing = [str(path) for path in during_add if not path.is_file()]
    if missing:
        print(f"--during-add: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    api_writes = ApiWrites(*arguments.during_api_writes) if arguments.during_api_writes else None
    try:
        questions = load_questions(arguments.questions)
        report = run_load_test(data_dir, questions, clients=arguments.clients, duration=arguments.duration, k=arguments.k,
                               workers=arguments.workers, threads=arguments.threads, during_add=during_add,
                               api_writes=api_writes, timeout=arguments.timeout)
    except (OSError, ValueError, RuntimeError) as error:
        print(f"load test failed: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if arguments.json else format_report(report))
    return 1 if failed(report) else 0


def failed(report: dict) -> bool:
    """Whether a query or a write failed, or a removed document was answered too late."""
    adds, api = report["adds"], report["api_writes"]
    return bool(report["errors"] or (adds and adds["failures"]) or (api and (api["failures"] or api["stale_hits"])))


if __name__ == "__main__":
    sys.exit(main())
