"""The ``kb`` commands that look after the data directory itself: backup, restore, check, audit.

They need no model, so they take only ``--data-dir``; ``cli.main`` adds them to the ``kb`` group.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from .audit import read_recent
from .backup import backup_index, restore_index
from .check import check_index
from .errors import KBError
from .layout import IndexLayout
from .settings import setting

__all__ = ["COMMANDS"]


def _data_dir_command(command):
    """Give a command ``--data-dir`` (the setting ``KB_DATA_DIR``) and turn the library's errors into one-line messages."""
    declared = setting("KB_DATA_DIR")

    @click.option(declared.option, "data_dir", envvar=declared.env, show_envvar=True, default=declared.default,
                  show_default=True, help=declared.help.replace("`", ""), type=click.Path(file_okay=False))
    @functools.wraps(command)
    def wrapper(**kwargs):
        try:
            return command(**kwargs)
        except KBError as error:
            raise click.ClickException(error.message) from error

    return wrapper


@click.command("backup")
@click.argument("destination", type=click.Path(file_okay=False))
@_data_dir_command
def backup_command(data_dir, destination):
    """Copy the index (database, snapshots, kept originals) to DESTINATION, a new folder, while it serves.

    The copy is one committed state of the index; it appears at DESTINATION only when whole.
    """
    report = backup_index(data_dir, destination)
    click.echo(f"backed up {report.documents} documents ({report.passages} passages, {report.originals} originals, "
               f"version {report.version}) to {report.destination}")
    if report.missing_originals:
        for name in report.missing_originals:
            click.echo(f"missing in the index itself, so not in the backup: {name}", err=True)
        click.echo("run `kb check` on the index to see what to do", err=True)
        sys.exit(1)


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@_data_dir_command
def restore_command(data_dir, source):
    """Put the backup SOURCE in place of the index, in one step, after checking it (as `kb check` does).

    Running servers reopen the restored index at their next search. The audit log is kept as it is.
    """
    report = restore_index(source, data_dir)
    click.echo(f"restored {report.source} into {report.data_dir}: {report.documents} documents, {report.passages} passages "
               f"(version {report.version}); running servers reopen it at their next search")


@click.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_data_dir_command
def check_command(data_dir, as_json):
    """Verify the index: manifest, SQLite and keyword integrity, one vector per passage, kept originals.

    Prints each problem with how to repair it, and exits with status 1 when there is any.
    """
    report = check_index(data_dir)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for problem in report.problems:
            click.echo(f"{problem.kind}: {problem.message}\n  repair: {problem.repair}")
        click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@click.command("audit")
@click.option("-n", "count", default=50, show_default=True, type=click.IntRange(min=1), help="How many entries.")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON lines, newest first.")
@_data_dir_command
def audit_command(data_dir, count, as_json):
    """Show the last adds, updates and removes (newest first): when, who, what, which document, the result."""
    for entry in read_recent(IndexLayout(Path(data_dir)).audit_log, count):
        if as_json:
            click.echo(json.dumps(entry.to_dict(), ensure_ascii=False))
        else:
            target = f"#{entry.document_id}" if entry.document_id is not None else "-"
            click.echo(f"{entry.time}  {entry.client:<20} {entry.action:<7} {target:>6}  {entry.result:<20} {entry.filename}")


COMMANDS = (backup_command, restore_command, check_command, audit_command)
