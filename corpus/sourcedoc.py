"""Source model and parser for the corpus source format (see src/FORMAT.md).

A source is YAML front matter between ``---`` lines followed by units
separated by lines holding only ``===``.  Each unit is parsed into a list of
blocks (headings, paragraphs, bullet lists, pipe tables) plus speaker notes.
"""
from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DISCLAIMER = "Reconstruction for this knowledge base — not the original ILO publication."
FORMATS = ("pdf", "pptx", "docx", "md", "html")
LAYOUTS = ("slides", "document")
TYPES = ("concept note", "participant list", "session brief", "presentation",
         "country note", "report", "summary")
REQUIRED = ("file", "title", "type", "session", "speakers", "organisation",
            "countries", "language", "date")

UNIT_SEPARATOR = re.compile(r"^===[ \t]*$", re.MULTILINE)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
NUMBERED = re.compile(r"^\s*\d+[.)]\s+")
NOTES = re.compile(r"^Notes:\s*(.*)$")
TABLE_RULE = re.compile(r"^:?-+:?$")


class SourceError(Exception):
    """A problem in a source file; the message names the file (and unit)."""


@dataclass
class Heading:
    """A ``#`` (level 1) or ``##`` (level 2+) heading."""
    level: int
    text: str


@dataclass
class Paragraph:
    """One paragraph of running text (consecutive plain lines joined)."""
    text: str


@dataclass
class BulletList:
    """Consecutive bullet items as (level, text); level 0 is ``- item``."""
    items: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Table:
    """A pipe table: one header row and the body rows (padded to equal width)."""
    header: list[str]
    rows: list[list[str]]

    def column_weights(self) -> list[int]:
        """Relative column widths: content length, capped, but never below the longest word."""
        rows = [self.header] + self.rows
        weights = []
        for col in range(len(self.header)):
            cells = [plain_text(row[col]) for row in rows]
            longest_word = max((len(w) for c in cells for w in c.split()), default=1)
            weights.append(max(6, longest_word + 2, min(40, max(len(c) for c in cells))))
        return weights


@dataclass
class Unit:
    """One slide or page: its blocks, speaker notes and Markdown text."""
    number: int
    blocks: list
    notes: str
    markdown: str

    @property
    def title(self) -> str:
        """The text of the first level-1 heading of the unit, or ''."""
        for block in self.blocks:
            if isinstance(block, Heading) and block.level == 1:
                return block.text
        return ""


@dataclass
class SourceDoc:
    """A parsed source: path, front matter and units."""
    path: Path
    meta: dict
    units: list[Unit]

    @property
    def title(self) -> str:
        """The front-matter title."""
        return str(self.meta["title"])

    @property
    def fmt(self) -> str:
        """The output format, taken from the extension of ``file``."""
        return self.meta["file"].rsplit(".", 1)[-1].lower()

    @property
    def created(self) -> dt.datetime:
        """Fixed creation timestamp (09:00 UTC on the ``date`` field)."""
        return doc_datetime(self.meta["date"])

    @property
    def author(self) -> str:
        """Speakers joined by commas, or the organisation when there are none."""
        return ", ".join(self.meta["speakers"]) or str(self.meta["organisation"] or "")


def doc_datetime(value) -> dt.datetime:
    """Turn a YAML date (or ISO string) into a timezone-aware datetime."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return dt.datetime(value.year, value.month, value.day, 9, 0, 0, tzinfo=dt.timezone.utc)


def plain_text(text: str) -> str:
    """Strip inline Markdown (bold, italics, code, links) for non-Markdown outputs."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = text.replace("**", "").replace("__", "").replace("`", "")
    return re.sub(r"(?<![\w*])\*(\S(?:[^*]*\S)?)\*(?![\w*])", r"\1", text)


def normalise_zip(data: bytes, when: dt.datetime) -> bytes:
    """Rewrite an OOXML zip with fixed member timestamps so builds are reproducible."""
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, 0)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=stamp)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            dst.writestr(member, src.read(info.filename))
    return out.getvalue()


def split_front_matter(text: str, path: Path) -> tuple[dict, str]:
    """Split ``---`` YAML front matter from the body and load it."""
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    match = re.match(r"^---\n(.*?)\n---[ \t]*\n", text, re.DOTALL)
    if not match:
        raise SourceError(f"{path}: missing YAML front matter between '---' lines")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise SourceError(f"{path}: invalid YAML front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise SourceError(f"{path}: front matter must be a mapping")
    return meta, text[match.end():]


def validate_meta(meta: dict, path: Path) -> None:
    """Check the front matter fields required by FORMAT.md."""
    missing = [key for key in REQUIRED if key not in meta]
    if missing:
        raise SourceError(f"{path}: front matter lacks {', '.join(missing)}")
    ext = str(meta["file"]).rsplit(".", 1)[-1].lower()
    problems = []
    if ext not in FORMATS:
        problems.append(f"file extension '.{ext}' not one of {', '.join(FORMATS)}")
    if ext == "pdf" and meta.get("layout") not in LAYOUTS:
        problems.append("a pdf needs 'layout: slides' or 'layout: document'")
    if meta["type"] not in TYPES:
        problems.append(f"type '{meta['type']}' not one of {', '.join(TYPES)}")
    if meta["session"] is not None and meta["session"] not in range(1, 8):
        problems.append("session must be 1-7 or null")
    for key in ("speakers", "countries"):
        if not isinstance(meta[key], list):
            problems.append(f"{key} must be a list")
    if meta["language"] not in ("en", "es"):
        problems.append("language must be en or es")
    if not isinstance(meta["date"], (dt.date, str)):
        problems.append("date must be YYYY-MM-DD")
    if problems:
        raise SourceError(f"{path}: " + "; ".join(problems))


def parse_source(path: Path) -> SourceDoc:
    """Read and parse one source file into a SourceDoc."""
    meta, body = split_front_matter(path.read_text(encoding="utf-8"), path)
    validate_meta(meta, path)
    meta["file"] = str(meta["file"]).strip().lstrip("/")
    chunks = [c.strip("\n") for c in UNIT_SEPARATOR.split(body)]
    chunks = [c for c in chunks if c.strip()]
    if not chunks:
        raise SourceError(f"{path}: the body has no units")
    units = [parse_unit(chunk, n, path) for n, chunk in enumerate(chunks, start=1)]
    return SourceDoc(path=path, meta=meta, units=units)


def parse_unit(text: str, number: int, path: Path) -> Unit:
    """Parse one unit: split off ``Notes:`` and turn the rest into blocks."""
    lines = text.split("\n")
    notes: list[str] = []
    for i, line in enumerate(lines):
        match = NOTES.match(line)
        if match:
            notes = [match.group(1)] + lines[i + 1:]
            lines = lines[:i]
            break
    where = f"{path}: unit {number}"
    blocks = _BlockBuilder(where).build(lines)
    markdown = "\n".join(lines).strip("\n")
    return Unit(number, blocks, "\n".join(notes).strip(), markdown)


class _BlockBuilder:
    """Line-by-line state machine turning unit lines into blocks."""

    def __init__(self, where: str):
        """Start with no open block; ``where`` prefixes error messages."""
        self.where = where
        self.blocks: list = []
        self.para: list[str] = []
        self.table: list[str] = []

    def build(self, lines: list[str]) -> list:
        """Consume all lines and return the finished block list."""
        for line in lines:
            self.feed(line)
        self.flush()
        return self.blocks

    def feed(self, line: str) -> None:
        """Dispatch one line to the right kind of block."""
        stripped = line.strip()
        if stripped.startswith("|"):
            self.flush_para()
            self.table.append(stripped)
            return
        self.flush_table()
        heading, bullet = HEADING.match(line), BULLET.match(line)
        if not stripped:
            self.flush_para()
        elif heading:
            self.flush()
            self.blocks.append(Heading(len(heading.group(1)), heading.group(2)))
        elif bullet:
            self.add_bullet(len(bullet.group(1).expandtabs(4)) // 2, bullet.group(2))
        elif self.para:
            if NUMBERED.match(line):
                self.flush_para()
            self.para.append(stripped)
        elif line[:1].isspace() and self.last_is_bullets():
            level, item = self.blocks[-1].items[-1]
            self.blocks[-1].items[-1] = (level, f"{item} {stripped}")
        else:
            self.para.append(stripped)

    def last_is_bullets(self) -> bool:
        """True when the previous block is an open bullet list."""
        return bool(self.blocks) and isinstance(self.blocks[-1], BulletList)

    def add_bullet(self, level: int, text: str) -> None:
        """Append a bullet item, opening a new list when needed."""
        self.flush_para()
        if not self.last_is_bullets():
            self.blocks.append(BulletList())
        self.blocks[-1].items.append((level, text.strip()))

    def flush(self) -> None:
        """Close any open paragraph or table."""
        self.flush_para()
        self.flush_table()

    def flush_para(self) -> None:
        """Close the open paragraph, if any."""
        if self.para:
            self.blocks.append(Paragraph(" ".join(self.para)))
            self.para = []

    def flush_table(self) -> None:
        """Close the open pipe table, if any, checking its rule row."""
        if not self.table:
            return
        rows = [_split_row(line) for line in self.table]
        self.table = []
        if len(rows) < 2 or not all(TABLE_RULE.match(c.replace(" ", "")) for c in rows[1]):
            raise SourceError(f"{self.where}: pipe table needs a '|---|' rule after the header")
        width = max(len(row) for row in rows)
        padded = [row + [""] * (width - len(row)) for row in rows]
        self.blocks.append(Table(header=padded[0], rows=padded[2:]))


def _split_row(line: str) -> list[str]:
    """Split ``| a | b |`` into stripped cells (``\\|`` stays a literal bar)."""
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    cells = re.split(r"(?<!\\)\|", line)
    return [cell.strip().replace("\\|", "|") for cell in cells]


def set_core_properties(props, doc: SourceDoc) -> None:
    """Fixed Office core properties (DOCX and PPTX alike): title, disclaimer as subject/comments, dates."""
    props.title = doc.title
    props.subject = DISCLAIMER
    props.comments = DISCLAIMER
    props.author = doc.author
    props.keywords = "; ".join(doc.meta["countries"])
    props.language = doc.meta["language"]
    props.last_modified_by = "corpus/build.py"
    props.revision = 1
    props.created = props.modified = doc.created.replace(tzinfo=None)
