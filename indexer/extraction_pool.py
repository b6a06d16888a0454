"""Read files in worker processes, each file with a time limit and each worker with a memory limit.

Extraction is single-threaded Python and C (PDFium, lxml), so one process leaves the
other cores idle; and a hostile or huge file read inside the indexing process would hold
the index's write lock with no limit. Here each file is read by ``extract`` in a pebble
``ProcessPool`` worker: one per core this process may use, never more than the files.
A file that takes longer than ``ExtractionLimits.seconds`` has its worker killed; a
worker may map at most ``ExtractionLimits.memory_mb`` (``RLIMIT_AS``, which Tesseract,
run by the worker for scanned pages, inherits). Either way the file is refused with a
reason that names the setting to raise, and the other files are read on. Before that, a
file whose compressed content would expand past ``ExtractionLimits.expansion`` is refused
unread (``indexer.extract.expansion``).
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import pickle
import resource
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from pebble import ProcessExpired, ProcessPool

from .errors import ExtractionCrashed, ExtractionOutOfMemory, ExtractionTimeout
from .extract import READER_MODULES, ExpansionLimits, extract
from .ocr import OcrSettings
from .records import ExtractedText
from .settings import default, read

__all__ = ["ExtractionLimits", "Extraction", "extract_files", "extract_one"]

# Below this much room left under the limit once the readers are loaded, a worker's own bookkeeping
# (receiving a task, sending an answer) could fail before the file is even opened: such a worker reads nothing.
_LEAST_ROOM_MB = 32


@dataclass(frozen=True)
class ExtractionLimits:
    """How long one file may take to read, how much memory a worker reading it may use, how far it may expand.

    Attributes:
        seconds: wall-clock seconds for one file (``KB_EXTRACT_SECONDS``). A scanned PDF takes
            about 1.6 s a page on an idle 2-core machine, so the default lets a scan of some 350 pages through.
        memory_mb: address space of a worker, in megabytes (``KB_EXTRACT_MEMORY_MB``), its libraries
            included: about 530 MB loaded, about 700 MB at the peak of reading the largest real PDFs.
        expansion: how far a file's compressed content may expand, checked before it is read
            (``KB_EXTRACT_MAX_EXPANDED_MB``, ``KB_EXTRACT_MAX_PARTS``, ``KB_EXTRACT_MAX_RATIO``).
    """

    seconds: float = default("KB_EXTRACT_SECONDS")
    memory_mb: int = default("KB_EXTRACT_MEMORY_MB")
    expansion: ExpansionLimits = ExpansionLimits()

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> ExtractionLimits:
        """The defaults, overridden by the ``KB_EXTRACT_*`` environment variables.

        Raises:
            InvalidSetting: one of them is set to a value it cannot take.
        """
        return cls(seconds=read("KB_EXTRACT_SECONDS", environ), memory_mb=read("KB_EXTRACT_MEMORY_MB", environ),
                   expansion=ExpansionLimits.from_environ(environ))


@dataclass(frozen=True)
class Extraction:
    """What reading one file gave: its text, or the error that stopped it.

    Attributes:
        path: the file.
        text: what ``extract`` read, or None when it failed.
        error: why it failed (an ``ExtractionError``, an ``OSError``, or a reader's unexpected error), or None.
        seconds: the worker's time on the file (the limit, when it ran out of time; for a worker that died,
            the time until then counted from when the file was handed to the pool).
    """

    path: Path
    text: ExtractedText | None
    error: Exception | None
    seconds: float


def extract_files(paths: list[Path], ocr: OcrSettings, limits: ExtractionLimits,
                  on_each: Callable[[], object] | None = None) -> list[Extraction]:
    """Read files in worker processes, all handed to the pool at once, one worker per usable core at most.

    Args:
        paths: the files to read.
        ocr: how pages without readable text are OCR'd.
        limits: time per file, memory per worker, expansion per file.
        on_each: called once per file as its answer is collected (a progress bar).

    Returns:
        Each file's text or error, in the order of ``paths``.
    """
    if not paths:
        return []
    extractions = []
    with _running_pool(limits, min(len(os.sched_getaffinity(0)), len(paths))) as pool:
        submitted = time.perf_counter()
        futures = [pool.schedule(_read, (path, ocr, limits), timeout=limits.seconds) for path in paths]
        for path, future in zip(paths, futures):
            extractions.append(_collect(path, future, limits, submitted))
            if on_each is not None:
                on_each()
    return extractions


def extract_one(path: Path, ocr: OcrSettings, limits: ExtractionLimits) -> tuple[ExtractedText, float]:
    """Read one file in a worker process of its own, under the same limits as ``extract_files``.

    Returns:
        The file's text and the seconds the worker spent reading it.

    Raises:
        ExtractionError: the file cannot be read (``ExtractionTimeout``, ``ExtractionOutOfMemory``,
            ``ExpansionTooLarge`` and ``ExtractionCrashed`` when a limit stopped it or its worker died).
        OSError: the file cannot be opened.
    """
    extraction = extract_files([path], ocr, limits)[0]
    if extraction.error is not None:
        raise extraction.error
    return extraction.text, extraction.seconds


@contextmanager
def _running_pool(limits: ExtractionLimits, workers: int) -> Iterator[ProcessPool]:
    """A pool of ``workers`` processes, stopped on the way out whatever happened."""
    # forkserver, never fork: this process runs ONNX Runtime and FAISS threads, and a child forked from a
    # threaded process can hang on a lock one of those threads held at the fork. The fork server (one per
    # process, started with the first pool) loads the readers once, so a worker starts with them in memory
    # rather than spending 0.3 s importing them; its only other thread is OpenBLAS's (numpy's), which
    # OpenBLAS itself stops around a fork.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__, *READER_MODULES])  # "__main__": the default's
    pool = ProcessPool(max_workers=workers, initializer=_start_worker, initargs=(limits.memory_mb,), context=context)
    try:
        yield pool
    finally:
        pool.stop()  # every answer is in by now, or nobody waits for it any more (an interrupt)
        pool.join()


def _collect(path: Path, future, limits: ExtractionLimits, submitted: float) -> Extraction:
    """Wait for one file's answer and turn the pool's own failures into errors that say what to do."""
    try:
        text, seconds = future.result()
    except TimeoutError:  # pebble's: the file ran out of time and its worker was stopped
        reason = f"took longer than {limits.seconds:g} s to read; raise KB_EXTRACT_SECONDS or split the file"
        return Extraction(path, None, ExtractionTimeout(path, reason), limits.seconds)
    except ProcessExpired as expired:
        return Extraction(path, None, ExtractionCrashed(path, _crash_reason(expired.exitcode, limits)),
                          time.perf_counter() - submitted)
    except _ReadFailed as failed:  # the reader's own error, raised in the worker and unpickled here
        failed.error.__cause__ = failed.__cause__  # the worker's traceback (pebble's), for the log of a parser bug
        return Extraction(path, None, failed.error, failed.seconds)
    except Exception as error:  # the pool itself failed (a worker could not be started)
        return Extraction(path, None, error, time.perf_counter() - submitted)
    return Extraction(path, text, None, seconds)


def _crash_reason(exitcode: int | None, limits: ExtractionLimits) -> str:
    """Why a worker that died is thought to have died, with both likely remedies.

    PDFium and Tesseract abort or trap when an allocation fails under the memory limit, which
    looks the same from here as a crash on a damaged file, so both are named.
    """
    if exitcode is not None and exitcode < 0:
        how = f"signal {-exitcode}, {signal.strsignal(-exitcode) or 'unknown'}"
    else:
        how = f"exit code {exitcode}"
    return (f"the reader stopped unexpectedly ({how}): the file may be damaged (re-export it) or need more than "
            f"{limits.memory_mb} MB of memory (raise KB_EXTRACT_MEMORY_MB)")


def _memory_reason(memory_mb: int) -> str:
    return f"needed more than {memory_mb} MB of memory to read; raise KB_EXTRACT_MEMORY_MB or split the file"


class _ReadFailed(Exception):
    """A reader's error as it travels from a worker to the parent, with the seconds the worker spent before it."""

    def __init__(self, error: Exception, seconds: float):
        super().__init__(error, seconds)  # pickled as these two arguments
        self.error = error
        self.seconds = seconds


# --- In the worker processes -----------------------------------------------------------------------------

_room_to_read = True


def _start_worker(memory_mb: int) -> None:
    """Get a worker ready: its own process group, every reader loaded, then the memory limit set."""
    global _room_to_read
    os.setpgrp()
    signal.signal(signal.SIGTERM, _stopper(signal.getsignal(signal.SIGTERM)))
    for module in READER_MODULES:  # loaded already, unless the fork server was started before our preload was set
        importlib.import_module(module)
    _room_to_read = _address_space_mb() + _LEAST_ROOM_MB < memory_mb
    if _room_to_read:  # a limit below what is already mapped would fail the worker's next allocation, wherever it is
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory_mb * 2**20 if hard == resource.RLIM_INFINITY else min(memory_mb * 2**20, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _stopper(previous: Callable) -> Callable:
    """A SIGTERM handler that stops the worker's Tesseract processes too, then does what ``previous`` did.

    pebble stops a worker that ran out of time with SIGTERM; Tesseract, its child, would run on.
    """
    def stop(signum, frame):
        if os.getpgrp() == os.getpid():  # only this worker's own group, never its parent's
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the signal to the group reaches this process too
            os.killpg(0, signal.SIGTERM)
        previous(signum, frame)
    return stop


def _address_space_mb() -> int:
    """The address space this process maps now (``VmSize``, what ``RLIMIT_AS`` limits), in megabytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) // 1024
    return 0


def _read(path: Path, ocr: OcrSettings, limits: ExtractionLimits) -> tuple[ExtractedText, float]:
    """In a worker: read one file; its text and the seconds it took, or ``_ReadFailed`` carrying the error."""
    started = time.perf_counter()
    try:
        if not _room_to_read:
            raise MemoryError
        return extract(path, ocr, limits.expansion), time.perf_counter() - started
    except Exception as error:
        raise _ReadFailed(_portable(error, path, limits.memory_mb), time.perf_counter() - started) from error


def _portable(error: Exception, path: Path, memory_mb: int) -> Exception:
    """The error to send to the parent: running out of memory said so, and nothing the parent could not unpickle."""
    # CPython says "can't start new thread" when a thread's stack cannot be mapped: the limit, for OCR's threads.
    if isinstance(error, MemoryError) or (isinstance(error, RuntimeError) and "can't start new thread" in str(error)):
        return ExtractionOutOfMemory(path, _memory_reason(memory_mb))
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # an exception class with its own __init__: unpickling it would break the whole pool
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error
