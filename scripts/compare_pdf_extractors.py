"""Compare PDF text extractors on real PDFs: words split in two, words run together, speed.

Usage: .venv/bin/python scripts/compare_pdf_extractors.py [PDF_FOLDER ...]
(default: ../shared/documents/real). Needs the word lists of Debian's ``wamerican``
and ``wspanish`` packages (/usr/share/dict) to tell words from fragments.

A *split* is two neighbouring tokens that are no words alone but one word together
("unemploy ment", "t he"); a *merge* is a token that is no word but two words run
together ("socialprotection"). Both are counted per 1,000 tokens. Multi-column
reading order is checked by eye on ../shared/documents/hard/pysf__multicolumn.pdf.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pypdfium2
from pypdf import PdfReader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from indexer.extract.pdf import extract_pdf  # noqa: E402  (the project's own reader, for comparison)

_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


def load_words() -> set[str]:
    words: set[str] = set()
    for name in ("american-english", "spanish"):
        path = Path("/usr/share/dict", name)
        if path.exists():
            words.update(line.strip().lower() for line in path.read_text(encoding="utf-8", errors="ignore").splitlines())
    return {word for word in words if len(word) > 1 or word in {"a", "y", "o", "e"}}


def pypdf_plain(path: Path) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(path).pages]


def pypdf_layout(path: Path) -> list[str]:
    return [page.extract_text(extraction_mode="layout") or "" for page in PdfReader(path).pages]


def pdfium_plain(path: Path) -> list[str]:
    document = pypdfium2.PdfDocument(str(path))
    return [page.get_textpage().get_text_range().replace("\ufffe", "-\n") for page in document]


def project(path: Path) -> list[str]:
    return [section.text for section in extract_pdf(path).sections]


def quality(pages: list[str], words: set[str]) -> tuple[int, float, float]:
    tokens = [token.lower() for page in pages for token in _TOKEN.findall(page)]
    splits = sum(
        1 for a, b in zip(tokens, tokens[1:])
        if (a not in words or b not in words) and a + b in words and len(a + b) > 3
    )
    merges = sum(1 for token in tokens if len(token) >= 8 and token not in words and _two_words(token, words))
    per_k = 1000 / max(1, len(tokens))
    return len(tokens), splits * per_k, merges * per_k


def _two_words(token: str, words: set[str]) -> bool:
    return any(token[:i] in words and token[i:] in words for i in range(3, len(token) - 2))


def main() -> None:
    folders = [Path(arg) for arg in sys.argv[1:]] or [Path("../shared/documents/real")]
    words = load_words()
    extractors = {"pypdf": pypdf_plain, "pypdf-layout": pypdf_layout, "pdfium": pdfium_plain, "project": project}
    totals = {name: [0, 0.0, 0.0, 0.0, 0] for name in extractors}
    print("file | extractor | tokens | splits/1k | merges/1k | ms/page")
    for path in sorted(p for folder in folders for p in folder.glob("*.pdf")):
        for name, extractor in extractors.items():
            started = time.perf_counter()
            try:
                pages = extractor(path)
            except Exception as error:  # a reader that fails on a file is a result too
                print(f"{path.name} | {name} | failed: {type(error).__name__}")
                continue
            seconds = time.perf_counter() - started
            tokens, splits, merges = quality(pages, words)
            ms_page = 1000 * seconds / max(1, len(pages))
            total = totals[name]
            total[0] += tokens; total[1] += splits * tokens / 1000; total[2] += merges * tokens / 1000; total[3] += seconds; total[4] += len(pages)
            print(f"{path.name[:40]} | {name} | {tokens} | {splits:.2f} | {merges:.2f} | {ms_page:.0f}")
    print("\nall files | extractor | tokens | splits/1k | merges/1k | ms/page")
    for name, (tokens, splits, merges, seconds, pages) in totals.items():
        print(f"all | {name} | {tokens} | {1000 * splits / max(1, tokens):.2f} | {1000 * merges / max(1, tokens):.2f} | "
              f"{1000 * seconds / max(1, pages):.0f}")


if __name__ == "__main__":
    main()
