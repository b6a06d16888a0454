"""``kb backup`` and ``kb restore`` (indexer/backup.py): consistent copies of a serving index, put back in one step,
also while writers work and when the process doing it is killed."""

from __future__ import annotations

import fcntl
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import indexer.backup
from indexer import (BackupDamaged, BackupRefused, IndexNotBuilt, KnowledgeBase, RestoreRefused, backup_index, check_index,
                     restore_index)
from indexer.layout import IndexLayout

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["pension scheme for rural elders", "informal workers Thailand", "domestic workers contracts", "monotributo"]


def answers(kb: KnowledgeBase) -> list[list[tuple[str, str]]]:
    """What each question gets in every mode: (file, passage text) in rank order."""
    return [[(hit.document.filename, hit.passage.text) for hit in kb.search(question, k=5, mode=mode).hits]
            for question in QUESTIONS for mode in ("hybrid", "dense", "keyword")]


def filenames(data_dir: Path) -> set[str]:
    db = sqlite3.connect(data_dir / "kb.sqlite3")
    try:
        return {row[0] for row in db.execute("SELECT filename FROM documents")}
    finally:
        db.close()


def test_a_backup_restored_elsewhere_answers_the_same(indexed_kb, tmp_path, fake_embedder):
    report = backup_index(indexed_kb.data_dir, tmp_path / "backup")
    documents, passages = indexed_kb.store.counts()
    assert (report.documents, report.passages, report.originals, report.missing_originals) == (documents, passages, 4, ())
    assert check_index(tmp_path / "backup").ok
    assert IndexLayout(tmp_path / "backup").read_manifest() == indexed_kb.layout.read_manifest()  # a copy of that index
    restored = restore_index(tmp_path / "backup", tmp_path / "elsewhere")
    assert restored.documents == documents and restored.generation != indexed_kb.layout.read_manifest().generation
    again = KnowledgeBase(tmp_path / "elsewhere", embedder=fake_embedder)
    assert answers(again) == answers(indexed_kb)
    assert {d.filename for d in again.documents()} == {d.filename for d in indexed_kb.documents()}
    assert again.layout.resolve(again.documents()[0].original).is_file()
    assert not list(tmp_path.glob(".*"))  # no partial or staging folder left behind


def test_restoring_over_a_served_index_is_seen_at_the_next_search(indexed_kb, tmp_path, small_corpus):
    backup_index(indexed_kb.data_dir, tmp_path / "backup")
    before = answers(indexed_kb)
    removed = next(d for d in indexed_kb.documents() if d.filename == "monotributo.md")
    indexed_kb.remove(removed.id)
    assert answers(indexed_kb) != before
    restore_index(tmp_path / "backup", indexed_kb.data_dir)
    assert answers(indexed_kb) == before  # the same KnowledgeBase object: it noticed the new generation
    assert check_index(indexed_kb.data_dir).ok
    # The audit log is the directory's: the remove made after the backup is still in it.
    assert [entry.action for entry in indexed_kb.audit_log(1)] == ["remove"]


def test_a_backup_never_writes_over_anything(indexed_kb, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(BackupRefused, match="already exists and is not empty"):
        backup_index(indexed_kb.data_dir, tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(BackupRefused):
        backup_index(indexed_kb.data_dir, tmp_path / "file")
    with pytest.raises(BackupRefused, match="inside the index directory"):
        backup_index(indexed_kb.data_dir, indexed_kb.data_dir / "backup")
    (tmp_path / "empty").mkdir()
    assert backup_index(indexed_kb.data_dir, tmp_path / "empty").documents == 4
    with pytest.raises(IndexNotBuilt):
        backup_index(tmp_path / "no-index", tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_originals_missing_from_the_index_are_reported_by_the_backup(indexed_kb, tmp_path):
    document = indexed_kb.documents()[0]
    indexed_kb.layout.resolve(document.original).unlink()
    report = backup_index(indexed_kb.data_dir, tmp_path / "backup")
    assert report.missing_originals == (document.original,) and report.originals == 3
    with pytest.raises(BackupDamaged, match="is missing"):
        restore_index(tmp_path / "backup", tmp_path / "restored")
    assert not (tmp_path / "restored").exists()


def test_a_damaged_backup_is_refused_and_the_index_kept(indexed_kb, tmp_path):
    backup_index(indexed_kb.data_dir, tmp_path / "backup")
    (tmp_path / "backup" / "kb.sqlite3").write_bytes(b"garbage" * 1000)
    before = answers(indexed_kb)
    with pytest.raises(BackupDamaged, match="not a whole backup") as caught:
        restore_index(tmp_path / "backup", indexed_kb.data_dir)
    assert "kb check" in caught.value.message
    assert answers(indexed_kb) == before and check_index(indexed_kb.data_dir).ok
    with pytest.raises(BackupDamaged):
        restore_index(tmp_path / "no-backup-here", indexed_kb.data_dir)


def test_a_restore_never_deletes_a_folder_that_is_not_an_index(indexed_kb, tmp_path):
    backup_index(indexed_kb.data_dir, tmp_path / "backup")
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "thesis.docx").write_text("years of work")
    with pytest.raises(RestoreRefused, match="holds files but no index"):
        restore_index(tmp_path / "backup", tmp_path / "documents")
    assert (tmp_path / "documents" / "thesis.docx").read_text() == "years of work"
    with pytest.raises(RestoreRefused, match="the index directory itself"):
        restore_index(tmp_path / "backup", tmp_path / "backup")
    (tmp_path / "empty").mkdir()
    assert restore_index(tmp_path / "backup", tmp_path / "empty").documents == 4


def test_an_original_removed_after_the_database_was_copied_makes_the_backup_try_again(indexed_kb, tmp_path, monkeypatch):
    """A document added after the originals were copied, then removed after the database was: the first database
    copy names an original that is gone, so the backup copies the database again (without the document)."""
    note = tmp_path / "late.md"
    note.write_text("# Late note\n\nAdded while the backup ran, removed before it finished.\n")
    copy_originals, copy_database = indexer.backup._copy_originals, indexer.backup._copy_database
    late, copies = [], []

    def originals_then_add(source, target, names):
        missing = copy_originals(source, target, names)
        if names is None:
            late.append(indexed_kb.add(note))
        return missing

    def database_then_remove(source, target):
        copy_database(source, target)
        copies.append(target)
        if len(copies) == 1:
            indexed_kb.remove(late[0].id)

    monkeypatch.setattr(indexer.backup, "_copy_originals", originals_then_add)
    monkeypatch.setattr(indexer.backup, "_copy_database", database_then_remove)
    report = backup_index(indexed_kb.data_dir, tmp_path / "backup")
    assert len(copies) == 2 and report.documents == 4 and report.missing_originals == ()
    assert check_index(tmp_path / "backup").ok and "late.md" not in filenames(tmp_path / "backup")


def test_a_snapshot_replaced_while_it_was_being_opened_makes_the_backup_try_again(indexed_kb, tmp_path, monkeypatch):
    open_snapshots, calls = indexer.backup._open_snapshots, []

    def vanished_once(source, version):
        calls.append(version)
        return None if len(calls) == 1 else open_snapshots(source, version)

    monkeypatch.setattr(indexer.backup, "_open_snapshots", vanished_once)
    backup_index(indexed_kb.data_dir, tmp_path / "backup")
    assert len(calls) == 2
    copied = IndexLayout(tmp_path / "backup")
    assert set(copied.vectors_snapshots()) == set(indexed_kb.layout.vectors_snapshots())
    assert set(copied.keywords_snapshots()) == set(indexed_kb.layout.keywords_snapshots())
    assert check_index(copied.data_dir).ok


def test_the_last_try_holds_the_write_lock(indexed_kb, tmp_path, monkeypatch):
    try_capture, locked = indexer.backup._try_capture, []

    def busy_writer(source, target, final):
        with open(source.write_lock, "w") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(probe, fcntl.LOCK_UN)
                locked.append(False)
            except BlockingIOError:
                locked.append(True)
        return try_capture(source, target, final) if final else None  # as if a writer got in the way each time

    monkeypatch.setattr(indexer.backup, "_try_capture", busy_writer)
    assert backup_index(indexed_kb.data_dir, tmp_path / "backup").documents == 4
    assert locked == [False, False, False, True]
    assert check_index(tmp_path / "backup").ok


def test_backups_taken_while_another_thread_writes_are_consistent(indexed_kb, tmp_path, fake_embedder):
    notes = tmp_path / "notes"
    notes.mkdir()
    for number in range(12):
        (notes / f"note{number:02}.md").write_text(f"# Note {number}\n\nPension {number} for workers, coverage and tax.\n")
    stop, errors = threading.Event(), []

    def writer():
        kb = KnowledgeBase(indexed_kb.data_dir, embedder=fake_embedder)
        try:
            while not stop.is_set():
                for path in sorted(notes.glob("*.md")):
                    kb.add(path)
                for document in kb.documents()[:3]:
                    kb.remove(document.id)
        except Exception as error:  # reported below: a writer must never fail because of a backup
            errors.append(error)
        finally:
            kb.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        reports = [backup_index(indexed_kb.data_dir, tmp_path / f"backup{n}") for n in range(4)]
    finally:
        stop.set()
        thread.join()
    assert errors == []
    for report in reports:
        checked = check_index(report.destination)
        assert checked.ok, checked.problems
        assert (checked.documents, checked.passages, checked.version) == (report.documents, report.passages, report.version)
    restored = restore_index(reports[-1].destination, tmp_path / "restored")
    assert KnowledgeBase(tmp_path / "restored", embedder=fake_embedder).search("pension workers").hits
    assert restored.documents == reports[-1].documents


# -- kill -9 (real processes) -----------------------------------------------------------------------------------

# Test-only: the script slows each step of indexer.backup down and names it on stdout before it runs, so the
# test can kill the process inside any step it chooses. Nothing of this is in the library.
STEPPED = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    import indexer.backup as backup

    def announced(function):
        def step(*args, **kwargs):
            print(function.__name__, flush=True)
            time.sleep(0.02)
            return function(*args, **kwargs)
        return step

    for name in ("_copy_file", "_copy_database", "_read_capture", "_open_snapshots", "_sync", "carry_over", "swap_in",
                 "check_index"):
        setattr(backup, name, announced(getattr(backup, name)))

    if __name__ == "__main__":
        getattr(backup, {function!r})({source!r}, {target!r})
        print("done", flush=True)
""")


def stepped(function: str, source: Path, target: Path) -> list[str]:
    return [sys.executable, "-c", STEPPED.format(root=str(ROOT), function=function, source=str(source), target=str(target))]


def kill_after(command: list[str], steps: int) -> None:
    """Run ``command`` and kill -9 it once it has announced ``steps`` steps (or let it finish if it has fewer)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(steps):
        if not process.stdout.readline():
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    process.stdout.close()
    process.stderr.close()


def count_steps(command: list[str]) -> int:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.endswith("done\n"), done.stderr
    return len(done.stdout.splitlines()) - 1


def fingerprint(data_dir: Path) -> tuple:
    """What must not change in a source: its files (not SQLite's -wal/-shm), documents, version, and the bytes of the rest."""
    names = sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if not p.name.endswith(("-wal", "-shm")))
    db = sqlite3.connect(data_dir / "kb.sqlite3")
    rows = db.execute("SELECT id, original, sha256 FROM documents ORDER BY id").fetchall()
    version = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    db.close()
    contents = {name: (data_dir / name).read_bytes() for name in names
                if (data_dir / name).is_file() and not name.startswith("kb.sqlite3") and name != "write.lock"}
    return names, rows, version, contents


@pytest.fixture
def notes_index(tmp_path, fake_embedder) -> KnowledgeBase:
    notes = tmp_path / "notes"
    notes.mkdir()
    for number in range(24):
        words = " ".join(random.Random(number).choice(["pension", "health", "workers", "tax", "coverage"]) for _ in range(200))
        (notes / f"note{number:02}.md").write_text(f"# Note {number}\n\n{words}.\n")
    kb = KnowledgeBase(tmp_path / "data", embedder=fake_embedder)
    kb.index([notes])
    kb.close()
    return kb


@pytest.mark.slow  # several processes for seconds
def test_kill_9_during_a_backup_leaves_no_backup_that_looks_whole_and_the_source_untouched(notes_index, tmp_path):
    source = notes_index.data_dir
    before = fingerprint(source)
    total = count_steps(stepped("backup_index", source, tmp_path / "first"))
    assert check_index(tmp_path / "first").ok
    rng = random.Random(14)
    outcomes = set()
    for attempt, steps in enumerate(sorted({1, total, *rng.sample(range(2, total), 8)})):
        destination = tmp_path / f"backup{attempt}"
        kill_after(stepped("backup_index", source, destination), steps)
        if destination.exists():  # renamed into place: only ever whole
            assert check_index(destination).ok, (steps, check_index(destination).problems)
        outcomes.add(destination.exists())
        assert fingerprint(source) == before, steps
        assert check_index(source).ok
    assert outcomes == {False, True}  # killed before the rename, and after it
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert all(".partial-" in name for name in leftovers)


@pytest.mark.slow  # several processes for seconds
def test_kill_9_during_a_restore_leaves_the_old_index_or_the_new_one(notes_index, tmp_path, fake_embedder):
    data_dir = notes_index.data_dir
    backup_index(data_dir, tmp_path / "backup")
    kb = KnowledgeBase(data_dir, embedder=fake_embedder)
    for document in kb.documents()[:8]:
        kb.remove(document.id)
    kb.close()
    old, new = filenames(data_dir), filenames(tmp_path / "backup")
    assert len(old) == 16 and len(new) == 24
    backup_index(data_dir, tmp_path / "old")  # to put the old state back between tries
    total = count_steps(stepped("restore_index", tmp_path / "backup", tmp_path / "probe"))
    rng = random.Random(9)
    outcomes = []
    for steps in sorted({1, total, *rng.sample(range(2, total), 8)}):
        kill_after(stepped("restore_index", tmp_path / "backup", data_dir), steps)
        checked = check_index(data_dir)
        assert checked.ok, (steps, checked.problems)
        assert filenames(data_dir) in (old, new), steps
        outcomes.append(filenames(data_dir) == new)
        kb = KnowledgeBase(data_dir, embedder=fake_embedder)
        assert kb.search("pension workers").hits
        kb.close()
        if filenames(data_dir) == new:
            restore_index(tmp_path / "old", data_dir)
    assert not outcomes[0] and outcomes[-1]  # killed before the swap, and after it


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from tests.conftest import FakeEmbedder
    from indexer import KnowledgeBase

    if __name__ == "__main__":  # files are read in worker processes, which import this script again
        kb = KnowledgeBase({data!r}, embedder=FakeEmbedder())
        files = sorted(Path({folder!r}).glob("*.md"))
        while True:
            for path in files:
                kb.add(path)
                print("added", flush=True)
            for document in kb.documents()[:3]:
                kb.remove(document.id)
""")


@pytest.mark.slow  # several processes for seconds
def test_backups_taken_while_another_process_writes_are_consistent(notes_index, tmp_path, fake_embedder):
    folder = tmp_path / "more"
    folder.mkdir()
    for number in range(10):
        (folder / f"more{number}.md").write_text(f"# More {number}\n\nTax and coverage for workers, note {number}.\n")
    script = WRITER.format(root=str(ROOT), data=str(notes_index.data_dir), folder=str(folder))
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "added\n", writer.stderr.read()
        reports = []
        for number in range(4):
            reports.append(backup_index(notes_index.data_dir, tmp_path / f"backup{number}"))
            for _ in range(600):  # the next backup once the writer has changed the index again
                if writer.poll() is not None or live_version(notes_index.data_dir) > reports[-1].version:
                    break
                time.sleep(0.05)
        assert writer.poll() is None, writer.stderr.read()  # it kept writing all along
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        writer.stderr.close()
    for report in reports:
        checked = check_index(report.destination)
        assert checked.ok, checked.problems
        assert (checked.documents, checked.version) == (report.documents, report.version)
    assert len({report.version for report in reports}) == 4  # each backup a later state of the index


def live_version(data_dir: Path) -> int:
    db = sqlite3.connect(data_dir / "kb.sqlite3", timeout=30)
    try:
        return int(db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0])
    finally:
        db.close()
