"""Many readers at once: start gunicorn on an index, fire questions from concurrent clients, report throughput and latency.

Usage: .venv/bin/python scripts/load_test.py --data-dir var/kb [--clients 8] [--duration 60] [-k 10] [--workers 2]
       [--questions corpus|corpus/eval/questions.jsonl|BEIR_FOLDER|FILE.txt] [--during-add FILE ...] [--json]

The script starts its own server (``python -m gunicorn --config python:search_app.gunicorn_conf`` on 127.0.0.1 and a
free port, ``KB_DATA_DIR`` set to the index), waits for ``GET /api/health``, then runs C client threads for T seconds.
Each client keeps one ``http.client`` connection (gunicorn's sync workers close it after every answer; the client then
reconnects, as a browser would) and asks ``GET /api/search?q=QUESTION&k=K`` with the questions in turn. It reports
answered queries per second, p50/p95/p99 latency in milliseconds and errors (an answer other than 200, or no answer).
The clients run on the same machine as the server and take some of its CPU.

``--during-add FILE ...`` writes while the clients read: a background loop adds each file (``kb add FILE``) and removes
it again (``kb remove ID``) until the time is up; the report counts the adds. The files must not be in the index
already (the script refuses them): removing them would take them out of it. The index is as before at the end.

The server is stopped with SIGTERM at the end. The exit status is 1 when a query or a write failed.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_QUESTIONS = PROJECT / "corpus" / "eval" / "questions.jsonl"
KB = [sys.executable, "-m", "indexer"]  # the `kb` command of this interpreter's environment
HOST = "127.0.0.1"


# --- questions ---------------------------------------------------------------------------------------------------------

def load_questions(source: str | Path) -> list[str]:
    """The questions of a file or a dataset folder.

    Args:
        source: a folder with ``eval/questions.jsonl`` (field ``question``, e.g. ``corpus``) or a BEIR folder
            (``queries.jsonl``, field ``text``); a ``.jsonl`` file with either field; or a text file, one question a line.

    Raises:
        ValueError: no questions found there.
    """
    path = Path(source)
    if path.is_dir():
        candidates = [path / "eval" / "questions.jsonl", path / "queries.jsonl"]
        found = next((candidate for candidate in candidates if candidate.is_file()), None)
        if found is None:
            raise ValueError(f"{path} has neither eval/questions.jsonl nor queries.jsonl")
        path = found
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if path.suffix == ".jsonl":
        records = [json.loads(line) for line in lines]
        questions = [str(record.get("question") or record.get("text") or "").strip() for record in records]
    else:
        questions = lines
    questions = [question for question in questions if question]
    if not questions:
        raise ValueError(f"no questions in {path}")
    return questions


# --- the server ----------------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn serving ``search_app.wsgi:app`` on an index, started and stopped by this script."""

    def __init__(self, data_dir: Path, workers: int, startup_timeout: float = 120.0):
        self.data_dir = data_dir
        self.workers = workers
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.ready_seconds = 0.0
        self._log = tempfile.TemporaryFile()

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "gunicorn", "--config", "python:search_app.gunicorn_conf",
                   "--bind", f"{HOST}:{self.port}", "--workers", str(self.workers)]
        if _has_control_socket():
            # Newer gunicorns listen on one control socket per user (~/.gunicorn): leave a running server's alone.
            command.append("--no-control-socket")
        return [*command, "search_app.wsgi:app"]

    def start(self) -> None:
        """Start gunicorn and wait until ``/api/health`` answers 200.

        Raises:
            RuntimeError: the server exited or did not answer in time (with the end of its log).
        """
        environment = {**os.environ, "KB_DATA_DIR": str(self.data_dir)}
        started = time.monotonic()
        # Access log lines go to stdout: thrown away, so that a full pipe never blocks a worker.
        self.process = subprocess.Popen(self.command(), cwd=PROJECT, env=environment, stdout=subprocess.DEVNULL,
                                        stderr=self._log, start_new_session=True)
        while time.monotonic() - started < self.startup_timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {self.process.returncode}:\n{self.log_tail()}")
            try:
                if get(self.port, "/api/health", timeout=5)[0] == 200:
                    self.ready_seconds = time.monotonic() - started
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /api/health within {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (gunicorn lets its workers finish their requests), then wait; SIGKILL only if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        self._log.seek(0)
        return "\n".join(self._log.read().decode(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Server:
        try:
            self.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self._log.close()


def _has_control_socket() -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any("--no-control-socket" in (setting.cli or []) for setting in KNOWN_SETTINGS)


def get(port: int, target: str, timeout: float = 30.0) -> tuple[int, bytes]:
    """One GET on a new connection: status and body."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# --- readers ---------------------------------------------------------------------------------------------------------------

@dataclass
class ClientLog:
    """What one client saw: the latency of each answered query, and its errors by kind."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)


def run_client(port: int, questions: list[str], k: int, first: int, step: int, deadline: float, timeout: float) -> ClientLog:
    """Ask questions ``first``, ``first + step``, ... (round the list) on one connection until ``deadline``."""
    log = ClientLog()
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    number = first
    try:
        while time.monotonic() < deadline:
            question = questions[number % len(questions)]
            number += step
            target = "/api/search?" + urllib.parse.urlencode({"q": question, "k": k})
            started = time.perf_counter()
            try:
                connection.request("GET", target)
                response = connection.getresponse()
                response.read()  # the whole answer, or the connection cannot carry the next request
            except (OSError, http.client.HTTPException) as error:
                log.errors[type(error).__name__] += 1
                connection.close()  # the next request opens a new connection
                continue
            if response.status == 200:
                log.latencies.append(time.perf_counter() - started)
            else:
                log.errors[f"HTTP {response.status}"] += 1
    finally:
        connection.close()
    return log


# --- a writer ----------------------------------------------------------------------------------------------------------

@dataclass
class WriterLog:
    added: int = 0
    removed: int = 0
    failures: list[str] = field(default_factory=list)


def indexed_ids_refusing(port: int, files: list[Path]) -> set[int]:
    """The ids of the indexed documents, after refusing files whose content is one of them.

    Adding such a file and removing it again would take the indexed document (or its kept original) away.

    Raises:
        ValueError: naming the file and its document.
    """
    status, body = get(port, "/api/documents")
    if status != 200:
        raise RuntimeError(f"GET /api/documents answered {status}")
    documents = json.loads(body)["documents"]
    by_content = {document["sha256"]: document for document in documents}
    for path in files:
        twin = by_content.get(hashlib.sha256(path.read_bytes()).hexdigest())
        if twin is not None:
            raise ValueError(f"{path} is indexed already (document {twin['id']}, {twin['filename']}); "
                             "--during-add takes files that are not in the index")
    return {document["id"] for document in documents}


def add_and_remove(files: list[Path], data_dir: Path, known_ids: set[int], stop: threading.Event, log: WriterLog) -> None:
    """Until ``stop`` is set: ``kb add`` each file, then ``kb remove`` the document it became.

    The commands run in their own session, so that Ctrl-C stops the clients but lets a write finish.
    """
    while not stop.is_set():
        for path in files:
            if stop.is_set():
                return
            added = subprocess.run([*KB, "add", str(path), "--data-dir", str(data_dir)], capture_output=True, text=True,
                                   cwd=PROJECT, start_new_session=True)
            if added.returncode != 0:
                log.failures.append(f"kb add {path}: {_last_line(added.stderr)}")
                stop.wait(1.0)  # a file that cannot be added fails fast; do not spin
                continue
            document_id = int(added.stdout.split()[0])
            if document_id in known_ids:  # the file updated a document of the index: leave it there
                log.failures.append(f"kb add {path} updated document {document_id} of the index; not removing it")
                stop.set()
                return
            log.added += 1
            removed = subprocess.run([*KB, "remove", str(document_id), "--data-dir", str(data_dir)], capture_output=True,
                                     text=True, cwd=PROJECT, start_new_session=True)
            if removed.returncode != 0:
                log.failures.append(f"kb remove {document_id}: {_last_line(removed.stderr)}")
                stop.set()  # adding again would leave one more copy behind
                return
            log.removed += 1


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(no message)"


# --- the run ------------------------------------------------------------------------------------------------------------

def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = math.ceil(fraction * len(sorted_values) - 1e-9)
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]


def run_load_test(data_dir: Path, questions: list[str], clients: int = 8, duration: float = 60.0, k: int = 10,
                  workers: int = 2, during_add: list[Path] | None = None, timeout: float = 30.0, seed: int = 0) -> dict:
    """Start the server, read (and write) for ``duration`` seconds, stop it; return the report."""
    questions = list(questions)
    random.Random(seed).shuffle(questions)
    with Server(data_dir, workers) as server:
        writer_log = writer = None
        stop_writing = threading.Event()
        if during_add:
            known_ids = indexed_ids_refusing(server.port, during_add)
            writer_log = WriterLog()
            writer = threading.Thread(target=add_and_remove, args=(during_add, data_dir, known_ids, stop_writing, writer_log),
                                      name="kb-add-remove", daemon=True)
        started = time.monotonic()
        deadline = started + duration
        try:
            if writer is not None:
                writer.start()
            with ThreadPoolExecutor(clients, thread_name_prefix="client") as pool:
                logs = list(pool.map(lambda number: run_client(server.port, questions, k, number, clients, deadline, timeout),
                                     range(clients)))
            elapsed = time.monotonic() - started
        finally:  # also on Ctrl-C: the add or remove under way finishes, so the index is left as it was
            stop_writing.set()
            if writer is not None and writer.is_alive():
                writer.join()
        ready_seconds = server.ready_seconds
    latencies = sorted(latency for log in logs for latency in log.latencies)
    errors = sum((log.errors for log in logs), Counter())
    report = {
        "clients": clients, "duration_s": round(elapsed, 2), "k": k, "workers": workers, "questions": len(questions),
        "server_ready_s": round(ready_seconds, 2),
        "queries": len(latencies), "qps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {name: round(1000 * percentile(latencies, fraction), 1)
                       for name, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))}
                      | {"mean": round(1000 * sum(latencies) / len(latencies), 1) if latencies else 0.0,
                         "max": round(1000 * latencies[-1], 1) if latencies else 0.0},
        "errors": sum(errors.values()), "error_kinds": dict(errors),
        "adds": None,
    }
    if writer_log is not None:
        report["adds"] = {"files": [str(path) for path in during_add], "added": writer_log.added, "removed": writer_log.removed,
                          "failures": writer_log.failures}
    return report


def format_report(report: dict) -> str:
    latency = report["latency_ms"]
    rows = [
        ("clients", f"{report['clients']} (server: {report['workers']} gunicorn workers, ready in {report['server_ready_s']:.2f} s)"),
        ("duration", f"{report['duration_s']:.1f} s, k={report['k']}, {report['questions']} questions"),
        ("queries", str(report["queries"])),
        ("queries/s", f"{report['qps']:.1f}"),
        ("p50", f"{latency['p50']:.1f} ms"),
        ("p95", f"{latency['p95']:.1f} ms"),
        ("p99", f"{latency['p99']:.1f} ms"),
        ("max", f"{latency['max']:.1f} ms"),
        ("errors", str(report["errors"]) + (f"  {report['error_kinds']}" if report["errors"] else "")),
    ]
    adds = report["adds"]
    if adds is not None:
        rows.append(("adds", f"{adds['added']} added and {adds['removed']} removed meanwhile, {len(adds['failures'])} failed"))
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    if adds is not None:
        lines += [f"  {failure}" for failure in adds["failures"]]
    return "\n".join(lines)


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
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a client waits for one answer")
    parser.add_argument("--during-add", nargs="+", metavar="PATH", default=[],
                        help="files to add and remove again in a loop while the clients read")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    arguments = parser.parse_args(argv)
    if arguments.clients < 1 or arguments.duration <= 0 or arguments.k < 1 or arguments.workers < 1:
        parser.error("--clients, --duration, -k and --workers must be positive")
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
    try:
        questions = load_questions(arguments.questions)
        report = run_load_test(data_dir, questions, clients=arguments.clients, duration=arguments.duration, k=arguments.k,
                               workers=arguments.workers, during_add=during_add, timeout=arguments.timeout)
    except (OSError, ValueError, RuntimeError) as error:
        print(f"load test failed: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if arguments.json else format_report(report))
    failed = report["errors"] or (report["adds"] is not None and report["adds"]["failures"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
