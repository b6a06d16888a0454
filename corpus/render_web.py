"""Markdown and HTML renderers.

The Markdown output is the source body re-joined (speaker notes dropped),
opened by ``# Title`` when the body does not already start with it, followed
by the reconstruction line.  The HTML output is that Markdown converted with
markdown-it-py into a standalone page.
"""
from __future__ import annotations

import html
from pathlib import Path

from markdown_it import MarkdownIt

from sourcedoc import DISCLAIMER, Heading, SourceDoc

PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<meta name="description" content="{disclaimer}">
<meta name="author" content="{author}">
<meta name="keywords" content="{keywords}">
<meta name="dcterms.date" content="{date}">
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; max-width: 52rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #999; padding: .3rem .6rem; text-align: left; vertical-align: top; }}
th {{ background: #e4e9f2; }}
</style>
</head>
<body>
<main>
{body}</main>
</body>
</html>
"""


def markdown_text(doc: SourceDoc) -> str:
    """The Markdown document: title heading, reconstruction line, then all units."""
    body = "\n\n".join(unit.markdown for unit in doc.units)
    first = doc.units[0].blocks[0] if doc.units[0].blocks else None
    note = f"*{DISCLAIMER}*"
    if (isinstance(first, Heading) and first.level == 1
            and first.text.strip().lower() == doc.title.strip().lower()):
        heading, _, rest = body.lstrip("\n").partition("\n")
        return f"{heading}\n\n{note}\n\n{rest.lstrip(chr(10))}".rstrip() + "\n"
    return f"# {doc.title}\n\n{note}\n\n{body}".rstrip() + "\n"


def render_md(doc: SourceDoc, out: Path) -> int:
    """Write the Markdown file; return the number of units."""
    out.write_text(markdown_text(doc), encoding="utf-8")
    return len(doc.units)


def render_html(doc: SourceDoc, out: Path) -> int:
    """Write a standalone HTML page; return the number of units."""
    converter = MarkdownIt("commonmark").enable("table")
    page = PAGE.format(
        lang=doc.meta["language"],
        title=html.escape(doc.title),
        disclaimer=html.escape(DISCLAIMER),
        author=html.escape(doc.author),
        keywords=html.escape(", ".join(doc.meta["countries"])),
        date=doc.created.date().isoformat(),
        body=converter.render(markdown_text(doc)),
    )
    out.write_text(page, encoding="utf-8")
    return len(doc.units)
