"""The ``kb`` command: parse arguments, call the indexer library, print what it says."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys

import click

from .audit import local_client
from .catalog import CATALOG_FIELDS, CatalogField
from .cli_data import COMMANDS as DATA_COMMANDS
from .embed import split_model_name
from .errors import KBError
from .evaluation import METRICS, measure_latency, open_dataset, run_evaluation
from .filters import FILTER_FIELDS
from .kb import KnowledgeBase
from .search import MAX_K, MODES
from .serialize import document_to_dict, result_to_dict
from .settings import PRECISIONS, setting


def _setting_option(env: str, *declarations: str, **attributes):
    """A click option for a setting, with the setting's default, environment variable and help (``SETTINGS``).

    Args:
        env: the setting's environment variable, e.g. ``KB_DATA_DIR``.
        declarations: the option's names and parameter name (default: the setting's option, ``--data-dir``).
        attributes: more of ``click.option``'s arguments, such as ``type``.
    """
    declared = setting(env)
    return click.option(*(declarations or (declared.option,)), envvar=declared.env, show_envvar=True,
                        default=declared.default, show_default=True, help=declared.help.replace("`", ""), **attributes)


def _common(command):
    """Add --data-dir, --model and --precision to a command and hand it a KnowledgeBase as ``kb``."""

    @_setting_option("KB_DATA_DIR", type=click.Path(file_okay=False))
    @_setting_option("KB_MODEL")
    @_setting_option("KB_PRECISION", type=click.Choice(PRECISIONS, case_sensitive=False))
    @functools.wraps(command)
    def wrapper(data_dir, model, precision, **kwargs):
        try:
            return command(KnowledgeBase(data_dir, model=model, precision=precision), **kwargs)
        except KBError as error:
            raise click.ClickException(error.message) from error

    return wrapper


def _print_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group()
@click.version_option(package_name="kb-search")
def main():
    """Index documents and answer questions from them with cited passages."""


for _command in DATA_COMMANDS:  # backup, restore, check, audit (cli_data.py)
    main.add_command(_command)


@main.command("index")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--rebuild", is_flag=True, help="Build a new index from nothing beside the old one, then swap it in (e.g. after changing --model).")
@click.option("--prune", is_flag=True, help="Remove documents whose files are gone from the given folders.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True),
              help="Write a JSON report: every file with its pages, passages, OCR'd and empty pages, language, time, reason.")
@click.option("--ocr/--no-ocr", default=None,
              help=f"Read scanned PDF pages with Tesseract, or not, in this run (default: env KB_OCR, "
                   f"else {'on' if setting('KB_OCR').default else 'off'}).")
@_common
def index_command(kb: KnowledgeBase, paths, rebuild, prune, report_path, ocr):
    """Synchronise files and folders (default: corpus/): new and changed files are indexed, unchanged skipped."""
    show_progress = sys.stderr.isatty() and not os.environ.get("CI")
    if report_path and not os.path.isdir(os.path.dirname(os.path.abspath(report_path))):
        raise click.BadParameter(f"the folder of {report_path} does not exist; create it or choose another file",
                                 param_hint="--report")
    if ocr is not None:
        kb.ocr = dataclasses.replace(kb.ocr, enabled=ocr)
    report = kb.index(list(paths) or ["corpus"], progress=show_progress, rebuild=rebuild, prune=prune, client=local_client("cli"))
    if report_path:
        _write_report(report_path, report.to_dict())
    for path in report.removed:
        click.echo(f"removed {path}", err=True)
    for path, reason in report.skipped.items():
        click.echo(f"skipped {path}: {reason}", err=True)
    for path, original in report.duplicates.items():
        click.echo(f"duplicate {path}: same content as {original}", err=True)
    for entry in report.files:
        if entry.near_duplicates:
            click.echo(f"near-duplicate {entry.path}: nearly the same text as {', '.join(entry.near_duplicates)} "
                       "(shown once in results, with the others as 'also as')", err=True)
    click.echo(report.summary())
    if report_path:
        click.echo(f"report written to {report_path}")


def _write_report(path: str, report: dict) -> None:
    """Write the ingestion report; a file that cannot be written is a one-line error (the index itself is saved)."""
    try:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(report, handle, ensure_ascii=False, indent=2)
    except OSError as error:
        raise click.ClickException(f"the index is up to date, but the report could not be written to {path}: "
                                   f"{error.strerror or error}") from error


def _parse_filters(pairs: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """``("type=presentation", "country=Thailand")`` -> ``{"type": ("presentation",), ...}``."""
    filters: dict[str, list[str]] = {}
    for pair in pairs:
        field, separator, value = pair.partition("=")
        if not separator or not field.strip() or not value.strip():
            raise click.BadParameter(f"{pair!r} is not FIELD=VALUE (e.g. type=presentation)", param_hint="--filter")
        filters.setdefault(field.strip(), []).append(value.strip())
    return {field: tuple(values) for field, values in filters.items()}


def _field_help(field: CatalogField) -> str:
    """The help of a catalogue field's ``kb add`` option: its label and hint (a list's values come one per option)."""
    hint = "repeat for several" if field.kind == "list" else field.hint
    return f"{field.label} ({hint})." if hint else f"{field.label}."


def _catalog_options(command):
    """Give ``kb add`` one option per catalogue field (``CATALOG_FIELDS``): ``--title``, ``--country`` (repeated)…"""
    # click lists options in the order their decorators are written, i.e. the reverse of the order they are applied.
    for field in reversed(CATALOG_FIELDS):
        command = click.option(f"--{field.option or field.name}", field.name, multiple=field.kind == "list",
                               type=int if field.kind == "number" else str, help=_field_help(field))(command)
    return command


@main.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_catalog_options
@_common
def add_command(kb: KnowledgeBase, files, **fields):
    """Add files, or update the documents they were added as; fields given here win over catalog.yaml."""
    fields = {name: list(value) if isinstance(value, tuple) else value for name, value in fields.items()}
    failed = False
    for path in files:
        try:
            document = kb.add(path, fields, client=local_client("cli"))
        except KBError as error:
            click.echo(f"not added {error.message}", err=True)
            failed = True
            continue
        click.echo(f"{document.id:>4}  {document.passage_count:>4} passages  {document.title}  ({document.filename})")
    if failed:
        sys.exit(1)


@main.command("remove")
@click.argument("documents", nargs=-1, required=True)
@_common
def remove_command(kb: KnowledgeBase, documents):
    """Remove documents (by id, or by the path they were indexed from) with their passages and vectors."""
    for id_or_path in documents:
        # An id goes straight to remove, so the audit log records a removal of one that does not exist too.
        document_id = int(id_or_path) if id_or_path.isdigit() else kb.find(id_or_path).id
        document = kb.remove(document_id, client=local_client("cli"))
        click.echo(f"removed {document.id}  {document.title}  ({document.filename})")


@main.command("search")
@click.argument("question")
@_setting_option("KB_DEFAULT_K", "-k", "k")
@click.option("--mode", default="hybrid", show_default=True, type=click.Choice(MODES), help="Retrieval mode.")
@click.option("--filter", "filter_pairs", multiple=True, metavar="FIELD=VALUE",
              help=f"Only documents with this catalogue value: {', '.join(FILTER_FIELDS)}.")
@_setting_option("KB_PER_DOCUMENT", type=click.IntRange(min=0))
@click.option("--group", is_flag=True, help="One entry per document with its best passages.")
@_setting_option("KB_ANSWERS", type=click.IntRange(0, MAX_K))
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@_common
def search_command(kb: KnowledgeBase, question, k, mode, filter_pairs, per_document, group, answers, as_json):
    """Answer QUESTION with the best passages and their sources."""
    result = kb.search(question, k=k, mode=mode, filters=_parse_filters(filter_pairs), per_document=per_document, group=group,
                       answers=answers, highlights=as_json, facets=as_json)
    if as_json:
        _print_json(result_to_dict(result))
        return
    if not result.hits:
        click.echo("No passages found.")
    for hit in result.hits:
        click.secho(f"{hit.rank}. {hit.document.title}" + (f" — {hit.where}" if hit.where else "") + f"  [{hit.score:.3f}]", bold=True)
        click.echo(f"   {hit.document.filename}")
        if hit.answer:
            click.secho("   → " + " ".join(hit.passage.text[hit.answer[0]:hit.answer[1]].split()), bold=True)
        click.echo("   " + hit.passage.text.replace("\n", "\n   ") + "\n")


@main.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@_common
def list_command(kb: KnowledgeBase, as_json):
    """List the indexed documents."""
    documents = kb.documents()
    if as_json:
        _print_json({"documents": [document_to_dict(document) for document in documents]})
        return
    for document in documents:
        click.echo(f"{document.id:>4}  {document.passage_count:>4} passages  {document.type:<16} {document.title}  ({document.filename})")


@main.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@_common
def stats_command(kb: KnowledgeBase, as_json):
    """Show document and passage counts and the model."""
    stats = kb.stats().to_dict()
    if as_json:
        _print_json(stats)
        return
    for key, value in stats.items():
        click.echo(f"{key}: {value}")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1), help="gunicorn worker processes.")
@_setting_option("KB_THREADS", type=click.IntRange(min=1))
@_common
def serve_command(kb: KnowledgeBase, host, port, workers, threads):
    """Serve the search page and the API with gunicorn (search_app.wsgi)."""
    os.environ.update(KB_DATA_DIR=str(kb.data_dir), KB_MODEL=kb.model, KB_PRECISION=split_model_name(kb.model)[1])
    # gunicorn loads the web app by name, so this library never imports it.
    command = [sys.executable, "-m", "gunicorn", "--config", "python:search_app.gunicorn_conf",
               "--bind", f"{host}:{port}", *gunicorn_worker_options(workers, threads), "search_app.wsgi:app"]
    os.execv(sys.executable, command)


def gunicorn_worker_options(workers: int, threads: int) -> list[str]:
    """gunicorn's options for ``workers`` processes of ``threads`` threads: sync workers for one thread, else
    gthread workers (each answers ``threads`` requests at once; the model and the index are shared by them)."""
    options = ["--workers", str(workers)]
    if threads > 1:
        options += ["--worker-class", "gthread", "--threads", str(threads)]
    return options


@main.command("eval")
@click.argument("dataset")
@click.option("--split", default="test", show_default=True, help="dev, test or all for the corpus; a qrels/<split>.tsv for BEIR.")
@click.option("--mode", "modes", multiple=True, type=click.Choice(MODES), help="Retrieval mode(s) to compare (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print only the metrics as JSON.")
@click.option("--ignore-identical-ids", is_flag=True,
              help="Leave out a hit whose document id is the question's own id (BEIR's convention for ArguAna and Quora, "
                   "whose questions are documents too).")
@_common
def eval_command(kb: KnowledgeBase, dataset, split, modes, as_json, ignore_identical_ids):
    """Measure nDCG@10, Recall@10/100 and MRR@10 on DATASET: `corpus` or a BEIR folder.

    For the corpus, nDCG@10 is also given by kind and by language of question.
    Runs and metrics (and a BEIR folder's index) are saved beside the index, in <data dir>.eval/.
    """
    show_progress = sys.stderr.isatty() and not os.environ.get("CI")
    report = run_evaluation(kb, dataset, split, tuple(modes) or MODES, progress=show_progress,
                            ignore_identical_ids=ignore_identical_ids)
    if as_json:
        click.echo(json.dumps(report.to_dict()))
        return
    click.echo(f"{report.dataset} ({report.split}, {report.queries} queries)")
    click.echo(f"{'mode':<10}" + "".join(f"{metric:>12}" for metric in METRICS))
    for mode, scores in report.modes.items():
        click.echo(f"{mode:<10}" + "".join(f"{scores[metric]:>12.4f}" for metric in METRICS))
    for label, groups in report.by_label.items():
        _echo_breakdown(label, groups, tuple(report.modes))
    click.echo(f"runs and metrics written to {report.output}")


def _echo_breakdown(label: str, groups: dict[str, dict[str, float]], modes: tuple[str, ...]) -> None:
    """One table of ``kb eval``: nDCG@10 of each mode for each value of a label (kind or language)."""
    width = max(len(label), *(len(value) for value in groups)) + 2
    click.echo(f"\nnDCG@10 by {label}")
    click.echo(f"{label:<{width}}{'queries':>8}" + "".join(f"{mode:>12}" for mode in modes))
    for value, scores in groups.items():
        click.echo(f"{value:<{width}}{scores['queries']:>8}" + "".join(f"{scores[mode]:>12.4f}" for mode in modes))


@main.command("bench")
@click.argument("dataset")
@click.option("--split", default="test", show_default=True, help="Whose questions to time.")
@click.option("--mode", "modes", multiple=True, type=click.Choice(MODES), help="Retrieval mode(s) to time (default: all).")
@click.option("--queries", default=200, show_default=True, help="How many questions to time.")
@click.option("-k", "k", default=10, show_default=True, help="Results per question.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--compare", is_flag=True,
              help="Build this project and a hand-written sentence-transformers + FAISS + bm25s stack from nothing on "
                   "DATASET (a BEIR folder) and print their build, forward pass, latency, cold start and nDCG@10 side by side.")
@click.option("--forward-sample", default=0, show_default=True, type=click.IntRange(min=0),
              help="With --compare: time the bare forward pass on this many evenly spaced passages (0: all).")
@click.option("--txtai", is_flag=True,
              help="With --compare: add txtai's default hybrid index (Embeddings(path=model, hybrid=True)) as a third "
                   "stack; its build takes about 9 minutes on SciFact on 2 cores.")
@_common
def bench_command(kb: KnowledgeBase, dataset, split, modes, queries, k, as_json, compare, forward_sample, txtai):
    """Time warm searches (encode, both searches, fusion, fetching passages) on DATASET's questions."""
    if txtai and not compare:
        raise click.UsageError("--txtai goes with --compare")
    if compare:
        _bench_compare(kb, dataset, split, modes, queries, k, as_json, forward_sample, txtai)
        return
    opened = open_dataset(kb, dataset, split, progress=sys.stderr.isatty() and not os.environ.get("CI"))
    questions = list(opened.eval_set.queries.values())[:queries]
    reports = [measure_latency(opened.kb, questions, k=k, mode=mode) for mode in (modes or MODES)]
    if as_json:
        click.echo(json.dumps({"dataset": opened.eval_set.name, "latency": [report.to_dict() for report in reports]}))
        return
    click.echo(f"{opened.eval_set.name}: {len(questions)} warm queries, k={k}")
    for report in reports:
        click.echo(f"{report.mode:<8} p50 {report.p50_ms:6.1f} ms   p95 {report.p95_ms:6.1f} ms   mean {report.mean_ms:6.1f} ms")


def _bench_compare(kb: KnowledgeBase, dataset, split, modes, queries, k, as_json, forward_sample, txtai) -> None:
    """``kb bench --compare [--txtai]``: this project beside the hand-written stack and txtai (see ``indexer.evaluation.compare``)."""
    from .evaluation.compare import CompareSettings, compare  # only this command needs it

    settings = CompareSettings(split=split, modes=tuple(modes) or MODES, queries=queries, k=k, forward_sample=forward_sample,
                               txtai=txtai)
    show_progress = sys.stderr.isatty() and not os.environ.get("CI")
    comparison = compare(kb, dataset, settings, say=lambda message: click.echo(message, err=True) if show_progress else None)
    click.echo(json.dumps(comparison.to_dict()) if as_json else comparison.to_table())
