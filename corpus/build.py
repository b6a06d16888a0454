"""Build the stand-in document collection from corpus/src (see src/FORMAT.md).

Usage:  .venv/bin/python corpus/build.py [SOURCE.md ...]

Every ``corpus/src/**/*.md`` except FORMAT.md is parsed (front matter and
``===``-separated units) and rendered to the file named by its ``file:``
field (pdf, pptx, docx, md or html, relative to corpus/).  With SOURCE
arguments only those sources are rendered; all sources are still parsed and
``corpus/catalog.yaml`` is written from the front matter of all of them.
Exit status 1 (and no catalog) when any source has an error.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.dont_write_bytecode = True  # keep corpus/ free of __pycache__

from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

from render_docx import render_docx  # noqa: E402
from render_pdf import check_fonts, render_pdf  # noqa: E402
from render_pptx import render_pptx  # noqa: E402
from render_web import render_html, render_md  # noqa: E402
from sourcedoc import SourceDoc, SourceError, parse_source  # noqa: E402

CORPUS = Path(__file__).resolve().parent
SRC = CORPUS / "src"
RENDERERS = {"pdf": render_pdf, "pptx": render_pptx, "docx": render_docx,
             "md": render_md, "html": render_html}
COUNT_WORD = {"pdf": "pages", "pptx": "slides", "docx": "units", "md": "units", "html": "units"}
CATALOG_KEYS = ("file", "title", "type", "session", "speakers", "organisation",
                "countries", "language", "date")


def find_sources() -> list[Path]:
    """All source files under corpus/src, sorted, except FORMAT.md."""
    found = (p for p in SRC.rglob("*.md") if p.resolve() != (SRC / "FORMAT.md").resolve())
    return sorted(Path(os.path.relpath(p)) for p in found)


def parse_all(paths: list[Path]) -> tuple[list[SourceDoc], list[str]]:
    """Parse every source; return the documents and the error messages."""
    docs, errors = [], []
    for path in paths:
        try:
            docs.append(parse_source(path))
        except SourceError as exc:
            errors.append(str(exc))
    return docs, errors


def check_outputs(docs: list[SourceDoc]) -> list[str]:
    """Errors for duplicate outputs and outputs outside corpus/ or inside src/."""
    errors, seen = [], {}
    for doc in docs:
        target = (CORPUS / doc.meta["file"]).resolve()
        if CORPUS not in target.parents or SRC in target.parents:
            errors.append(f"{doc.path}: file '{doc.meta['file']}' must be under corpus/ "
                          "and outside corpus/src/")
        elif target in seen:
            errors.append(f"{doc.path}: file '{doc.meta['file']}' is also produced by {seen[target]}")
        else:
            seen[target] = doc.path
    return errors


def select(docs: list[SourceDoc], wanted: list[str]) -> list[SourceDoc]:
    """The documents to render: all, or those whose source path was given."""
    if not wanted:
        return docs
    paths = {Path(w).resolve() for w in wanted}
    unknown = paths - {p.resolve() for p in find_sources()}
    if unknown:
        raise SystemExit(f"build.py: not a source under {SRC}: "
                         f"{', '.join(map(str, sorted(unknown)))}")
    return [d for d in docs if d.path.resolve() in paths]


def render(doc: SourceDoc) -> str:
    """Render one document and return its report line."""
    out = CORPUS / doc.meta["file"]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        count = RENDERERS[doc.fmt](doc, tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    source = doc.path.resolve().relative_to(CORPUS)
    word = COUNT_WORD[doc.fmt] if count != 1 else COUNT_WORD[doc.fmt][:-1]
    return f"built {doc.meta['file']}  ({count} {word})  <- {source}"


def catalog_entry(doc: SourceDoc) -> dict:
    """The catalog.yaml entry of one document."""
    entry = {key: doc.meta[key] for key in CATALOG_KEYS}
    entry["date"] = doc.created.date()
    entry["speakers"] = list(entry["speakers"])
    entry["countries"] = list(entry["countries"])
    return entry


def write_catalog(docs: list[SourceDoc]) -> None:
    """Write corpus/catalog.yaml, sorted by file."""
    entries = sorted((catalog_entry(d) for d in docs), key=lambda e: e["file"])
    text = yaml.safe_dump(entries, sort_keys=False, allow_unicode=True, width=100)
    (CORPUS / "catalog.yaml").write_text(text, encoding="utf-8")
    print(f"wrote catalog.yaml  ({len(entries)} entries)")


def main(argv: list[str] | None = None) -> int:
    """Parse, render and catalogue; print one line per file; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="*", help="only render these source files")
    args = parser.parse_args(argv)
    check_fonts()
    docs, errors = parse_all(find_sources())
    errors += check_outputs(docs)
    bad = {e.split(": ", 1)[0] for e in errors}
    for doc in select(docs, args.sources):
        if str(doc.path) in bad:
            continue
        try:
            print(render(doc), flush=True)
        except SourceError as exc:
            errors.append(str(exc))
    for error in errors:
        print(f"ERROR {error}", file=sys.stderr)
    if errors:
        print(f"build.py: {len(errors)} error(s); catalog.yaml not written", file=sys.stderr)
        return 1
    write_catalog(docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
