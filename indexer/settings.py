"""Every setting of the project, declared once: its environment variable, default, parser, meaning and users.

A setting is a ``KB_*`` environment variable. The ``kb`` command takes its
options' defaults, environment variables and help from here; the web app
(``search_app.create_app``) loads the settings of the ``app`` scope into its
config; the library reads the rest where it needs them (``read``,
``cache_dir``). Each value comes from the default, then the environment (unset
or blank: the default), then what a caller passes. A value that cannot be used
stops the program with ``InvalidSetting`` naming the variable. The README's
settings table is ``settings_table()``, and a test keeps the two equal.

This module imports nothing else of the indexer but its errors, so any module may read a setting.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import InvalidSetting

__all__ = ["Setting", "SETTINGS", "PRECISIONS", "SCOPES", "setting", "default", "parse", "read", "load", "cache_dir",
           "settings_table"]

#: Who reads a setting: the ``kb`` command, the web app; the table in the README says it in words.
SCOPES = {"cli": "`kb`", "app": "web app"}
#: What the weights of a model run at: as trained, or dynamically quantised to int8 (``KB_PRECISION``).
PRECISIONS = ("fp32", "int8")
#: What embeds passages in bulk (``KB_BULK_RUNTIME``; see ``bulk_runtime``).
BULK_RUNTIMES = ("auto", "onnx", "torch-bf16")
_YES = ("1", "true", "yes", "on")
_NO = ("0", "false", "no", "off")
#: One rate in Flask-Limiter's notation: "300/minute", "20 per second", "1000/2 hours".
_RATE = re.compile(r"\d+\s*(?:/|per)\s*(?:\d+\s*)?(?:second|minute|hour|day|month|year)s?", re.IGNORECASE)


@dataclass(frozen=True)
class Setting:
    """One setting.

    Attributes:
        env: its environment variable, also its key in the web app's config (``KB_DATA_DIR``).
        default: its value when the variable is unset or blank.
        parse: turns the variable's text (stripped, never blank) into the value; raises ``ValueError`` saying
            what a good value looks like ("a whole number above 0").
        help: what it does, for the README and ``kb --help``.
        scope: who reads it, among ``SCOPES``: "cli" (the ``kb`` command, through an option or the indexer it
            runs), "app" (the web app, through its config or the indexer it runs), or both.
    """

    env: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    scope: tuple[str, ...] = ("cli", "app")

    @property
    def name(self) -> str:
        """Its name without the prefix, as a Python name: ``data_dir`` for ``KB_DATA_DIR``."""
        return self.env.removeprefix("KB_").lower()

    @property
    def option(self) -> str:
        """Its ``kb`` option: ``--data-dir`` for ``KB_DATA_DIR``."""
        return "--" + self.name.replace("_", "-")


def _switch(raw: str) -> bool:
    """On or off, as people write it in an environment."""
    if raw.lower() not in _YES + _NO:
        raise ValueError("1 or 0 (on or off)")
    return raw.lower() in _YES


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    """A parser accepting one of ``choices``, in any case."""

    def parse(raw: str) -> str:
        if raw.lower() not in choices:
            raise ValueError(" or ".join(choices))
        return raw.lower()

    return parse


def _number(kind: type, above: float, wanted: str) -> Callable[[str], Any]:
    """A parser of numbers of ``kind`` (int or float) greater than ``above``; its error says ``wanted``."""

    def parse(raw: str):
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(wanted) from None
        if not value > above:  # also refuses "nan"
            raise ValueError(wanted)
        return value

    return parse


def _rate_limit(raw: str) -> str:
    """A rate limit in Flask-Limiter's notation, several joined by ``;`` (``20/second;300/minute``), or "off"."""
    if raw.lower() in _NO + ("none",):
        return "off"
    if not all(_RATE.fullmatch(part.strip()) for part in raw.split(";")):
        raise ValueError("a rate such as 300/minute (several joined by ;, e.g. 20/second;300/minute), or off")
    return raw


#: Every setting, in the order the README lists them.
SETTINGS = (
    Setting("KB_DATA_DIR", "var/kb", str, "Index directory (manifest, SQLite database, FAISS file)."),
    Setting("KB_MODEL", "all-MiniLM-L6-v2", str, "sentence-transformers model name or path; must match the index's."),
    Setting("KB_PRECISION", "fp32", _one_of(PRECISIONS),
            "Model weights as trained (`fp32`) or dynamically quantised to `int8` (a quarter of the size; slightly "
            "different vectors); must match the index's."),
    Setting("KB_HYBRID_QUESTIONS", "int8", _one_of(PRECISIONS),
            "How a question is embedded for hybrid search, and the sentences an answer is chosen from, on an fp32 index: "
            "`int8` runs an int8 copy of the model made for questions (2.1 against 4.7 ms per question, hybrid nDCG@10 "
            "within 0.002; a search marking three answers in 39 against 108 ms; see README, \"The model\"); `fp32` the "
            "model itself. Dense search and passages always use the index's precision."),
    Setting("KB_BULK_RUNTIME", "auto", _one_of(BULK_RUNTIMES),
            "What embeds passages when a process indexes many (fp32 models): `auto` moves from ONNX Runtime to "
            "PyTorch in bfloat16 after 256 passages where the processor has bfloat16 instructions (AVX-512 BF16, "
            "AMX) and PyTorch is installed (twice as fast, same vectors to cosine 0.9999); `onnx` never; "
            "`torch-bf16` from the first batch. Questions always run on ONNX Runtime."),
    Setting("KB_DEFAULT_K", 10, _number(int, 0, "a whole number above 0 (e.g. 10)"),
            "Passages (documents, when grouped) a search returns unless it says `k`."),
    Setting("KB_MAX_QUERY_CHARS", 500, _number(int, 0, "a whole number above 0 (e.g. 500)"),
            "Longest question accepted; longer ones get a 400.", scope=("app",)),
    Setting("KB_PER_DOCUMENT", 3, _number(int, -1, "a whole number, 0 or more (e.g. 3)"),
            "Most passages of one document in a result list (0: no cap), unless a search says `per_document`."),
    Setting("KB_ANSWERS", 3, _number(int, -1, "a whole number, 0 or more (e.g. 3)"),
            "First results whose answering sentence the search page and `kb search` mark (bold; `→`), unless the address "
            "says `answers`; each costs an embedding of a few of its sentences (about 35 ms on 2 cores). 0: none. The "
            "JSON API marks none unless asked (`answers=N`); the widget asks for 3 (`data-kb-answers`)."),
    Setting("KB_ADMIN_TOKEN", "", str, "Bearer token for adding, editing and removing documents over HTTP; "
            "empty: the write API is off.", scope=("app",)),
    Setting("KB_MAX_UPLOAD_MB", 50.0, _number(float, 0, "a number of megabytes above 0 (e.g. 50)"),
            "Largest upload accepted, in megabytes; larger ones get a 413.", scope=("app",)),
    Setting("KB_CORS_ORIGINS", "", str, "Origins (comma-separated, e.g. `https://www.example.org`) whose pages may "
            "read the API (`GET /api/...`), as the embed widget does; `*`: any site. Writes and credentials: never.",
            scope=("app",)),
    Setting("KB_EMBED_ORIGINS", "", str, "Origins (comma-separated; `*`: any site) that may show `/embed` in an "
            "iframe, besides this site; every other page refuses to be framed.", scope=("app",)),
    Setting("KB_RATE_LIMIT", "300/minute", _rate_limit, "Requests one client address may make to the read API "
            "(`/api/search`, `/api/documents`, a document, its file) and the search page together, in Flask-Limiter's "
            "notation (`300/minute`, `20/second;300/minute`); `off`: no limit. Over it: 429 `rate_limited` with "
            "`Retry-After`. `/api/health`, the other pages and the write API are not counted.", scope=("app",)),
    Setting("KB_RATE_LIMIT_STORAGE", "memory://", str, "Where the rate limit's counts are kept: `memory://` (each "
            "gunicorn worker counts on its own, so a client may get up to workers × the limit) or a store all workers "
            "share, such as `redis://localhost:6379` (needs the `redis` package).", scope=("app",)),
    Setting("KB_TRUSTED_PROXIES", 0, _number(int, -1, "a whole number, 0 or more (e.g. 1)"),
            "Reverse proxies in front of the server whose `X-Forwarded-For`, `-Proto`, `-Host` and `-Prefix` are "
            "believed (0: none, the client is the socket's address). Behind one proxy set 1, or every client shares "
            "the proxy's rate limit.", scope=("app",)),
    Setting("KB_THREADS", 1, _number(int, 0, "a whole number above 0 (e.g. 4)"),
            "Threads per gunicorn worker of `kb serve`: 1 runs sync workers (one request at a time each); more runs "
            "`gthread` workers, each answering that many requests at once.", scope=("cli",)),
    Setting("KB_CACHE_DIR", "~/.cache/kb-search", str,
            "Where the ONNX export of the model and py3langid's unpacked language model (68 MB) are kept."),
    Setting("KB_ONNX_SPINNING", True, _switch, "`0`: ONNX Runtime's threads do not busy-wait within a run (they never do "
            "between runs: `session.force_spinning_stop`). `kb serve` sets it in each worker when there are several: an "
            "idle worker's threads, which spun between runs before that, slowed the busy one twofold."),
    Setting("KB_OCR", True, _switch, "Read PDF pages that have no readable text with Tesseract (`0`: such pages stay "
            "unread; `kb index --no-ocr` for one run), for `kb index`, `kb add` and uploads."),
    Setting("KB_OCR_LANGUAGES", "eng+spa+fra", str,
            "Tesseract languages, joined by `+` (each needs its `tesseract-ocr-LANG` package)."),
    Setting("KB_OCR_PAGE_TIMEOUT", 120.0, _number(float, 0, "a number of seconds above 0 (e.g. 120)"),
            "Seconds Tesseract may spend on one page; a page over the limit is left unread (and listed in the report "
            "as empty)."),
    Setting("KB_EXTRACT_SECONDS", 600.0, _number(float, 0, "a number of seconds above 0 (e.g. 600)"),
            "Seconds one file may take to read (OCR included: about 1.6 s a scanned page); a file over the limit is "
            "skipped, its reader stopped. For `kb index`, `kb add` and uploads."),
    Setting("KB_EXTRACT_MEMORY_MB", 2048, _number(int, 0, "a whole number of megabytes above 0 (e.g. 2048)"),
            "Memory (address space, its libraries included: about 530 MB) a worker process reading files may use, "
            "in MB; a file that needs more is skipped. Reading the largest real PDFs peaks near 700 MB."),
    Setting("KB_EXTRACT_MAX_EXPANDED_MB", 500, _number(int, 0, "a whole number of megabytes above 0 (e.g. 500)"),
            "Most a file's compressed content may expand to, in MB, checked before it is read: a DOCX's or PPTX's "
            "parts together (as the ZIP declares them), or any one compressed stream of a PDF. A file over it is "
            "refused (413 `expansion_too_large`): a compression bomb, or a file too large to read."),
    Setting("KB_EXTRACT_MAX_PARTS", 10000, _number(int, 0, "a whole number above 0 (e.g. 10000)"),
            "Most parts (ZIP entries) a DOCX or PPTX may hold; real files hold tens to a few hundred."),
    Setting("KB_EXTRACT_MAX_RATIO", 100.0, _number(float, 1, "a number above 1 (e.g. 100)"),
            "Most times larger than its compressed size one part of a DOCX or PPTX may expand, for parts over 1 MB "
            "expanded; real files' parts expand at most about 30 times, a bomb's about 1,000."),
)
_BY_ENV = {declared.env: declared for declared in SETTINGS}


def setting(env: str) -> Setting:
    """The setting whose environment variable is ``env``.

    Raises:
        KeyError: no setting has that variable (a typo in the code, not a user's mistake).
    """
    return _BY_ENV[env]


def default(env: str) -> Any:
    """The default of the setting ``env``: what classes such as ``OcrSettings`` take for their own defaults."""
    return _BY_ENV[env].default


def parse(env: str, raw: Any, name: str = "") -> Any:
    """The value of the setting ``env`` written as ``raw`` (stripped; blank gives the default).

    Args:
        env: the setting's environment variable.
        raw: the text given (an environment variable, an argument).
        name: what to call it in an error (default: ``env``), e.g. "precision" for an argument.

    Raises:
        InvalidSetting: ``raw`` is not a value of the setting; the message names it and what it should be.
    """
    declared = _BY_ENV[env]
    text = str(raw).strip()
    if not text:
        return declared.default
    try:
        return declared.parse(text)
    except ValueError as error:
        raise InvalidSetting(f"{name or env} must be {error}, not {raw!r}") from None


def read(env: str, environ: Mapping[str, str] | None = None) -> Any:
    """The setting ``env`` from the environment, or its default when the variable is unset or blank.

    Args:
        env: the setting's environment variable.
        environ: the environment to read (default ``os.environ``).

    Raises:
        InvalidSetting: the variable holds a value the setting cannot take.
    """
    environ = os.environ if environ is None else environ
    return parse(env, environ.get(env, ""))


def load(scope: str = "", overrides: Mapping[str, Any] | None = None,
         environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every setting (of ``scope``) by variable: defaults, then the environment, then ``overrides``.

    Args:
        scope: "cli" or "app" for the settings that one reads; "" for all.
        overrides: values a caller fixes (a test, the web app's ``config``), by variable; taken as they are,
            and kept even when they are no setting.
        environ: the environment to read (default ``os.environ``).

    Raises:
        InvalidSetting: a variable holds a value its setting cannot take.
    """
    values = {declared.env: read(declared.env, environ) for declared in SETTINGS if not scope or scope in declared.scope}
    values.update(overrides or {})
    return values


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where this machine keeps the model's ONNX export and the unpacked language model (``KB_CACHE_DIR``)."""
    return Path(read("KB_CACHE_DIR", environ)).expanduser()


def _shown(value: Any) -> str:
    """A default as the README shows it: ``1`` for on, ``120`` for 120.0, "(empty)" for nothing."""
    if isinstance(value, bool):
        return "`1`" if value else "`0`"
    if value == "":
        return "(empty)"
    return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"


def settings_table() -> str:
    """The README's settings table, in Markdown: variable, default, who reads it, what it does."""
    lines = ["| setting | default | read by | description |", "|---|---|---|---|"]
    for declared in SETTINGS:
        readers = " and ".join(SCOPES[scope] for scope in declared.scope)
        described = declared.help.replace("|", "\\|")  # a bare "|" would end the cell
        lines.append(f"| `{declared.env}` | {_shown(declared.default)} | {readers} | {described} |")
    return "\n".join(lines) + "\n"
