# Set-up, index, serve and test. Every target installs what it needs first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0
STAMP  := $(VENV)/.installed
DATA_DIR ?= var/kb
HOST ?= 127.0.0.1
PORT ?= 5000

SCIFACT ?= ../shared/benchmarks/scifact

CHROMIUM := /usr/bin/chromium

.PHONY: install tesseract browser index run test test-fast corpus eval bench load clean

install: $(STAMP) tesseract

# Tesseract with English, Spanish and French data reads scanned PDF pages (indexer/ocr.py): Debian's
# packages, installed when missing (as root in CI, through sudo elsewhere). Without it scans are refused.
TESSDATA_LANGS := eng spa fra
tesseract:
	@missing=""; command -v tesseract >/dev/null || missing="tesseract-ocr"; \
	  for lang in $(TESSDATA_LANGS); do \
	    tesseract --list-langs 2>/dev/null | grep -qx $$lang || missing="$$missing tesseract-ocr-$$lang"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian's$$missing for OCR"; \
	    SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; fi

# The CPU build of torch goes in first so that no dependency pulls a CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

index: install
	$(BIN)/kb index corpus --data-dir $(DATA_DIR)

run: index
	$(BIN)/kb serve --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

# Headless Chromium for the browser tests (tests/test_embed_browser.py): Debian's package, installed
# when missing (as root in CI, through sudo elsewhere). Playwright drives it; its own browser
# download is never used.
browser:
	@test -x $(CHROMIUM) || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

test: install browser
	$(BIN)/python -m pytest

# The unit tests alone: none that loads the real embedding model (slow) or drives Chromium (browser).
test-fast: install
	$(BIN)/python -m pytest -n auto -m "not slow and not browser"

# Quality of the three retrieval modes on the corpus questions and on SciFact (first run builds
# the SciFact index, about 10 minutes on 2 cores). The SciFact index and the runs go to $(DATA_DIR).eval.
eval: install
	$(BIN)/kb eval corpus --split test --data-dir $(DATA_DIR)
	$(BIN)/kb eval $(SCIFACT) --split test --data-dir $(DATA_DIR)

# This project beside a hand-written sentence-transformers + FAISS + bm25s stack and txtai's default hybrid
# index on SciFact, all built from nothing in one run: build, forward pass, warm latency, cold start,
# nDCG@10 (indexer/evaluation/compare.py). txtai (the dev extra) alone takes about 9 minutes to build.
bench: install
	$(BIN)/kb bench $(SCIFACT) --compare --txtai --data-dir $(DATA_DIR)

# 100,000 passages of recombined SciFact and corpus sentences (5,000 embedded for real, the rest drawn
# from their distribution), then latency, memory, disk, dense recall@10 against exact search and the
# time to add a 20-page PDF (scripts/large_collection.py). The build runs once: an existing complete
# index is kept, an interrupted one is resumed. For 1,000,000: the same with --passages 1000000.
LARGE_DIR ?= var/large-100k
.PHONY: large
large: install
	$(BIN)/python scripts/large_collection.py build --passages 100000 --data-dir $(LARGE_DIR) --scifact $(SCIFACT)
	$(BIN)/python scripts/large_collection.py measure --data-dir $(LARGE_DIR) --scifact $(SCIFACT)

# Many readers at once: gunicorn (WORKERS workers of THREADS threads; more than 1 thread: gthread workers) on the
# corpus index, CLIENTS concurrent clients asking the corpus questions for DURATION seconds while WRITES ("N_ADD
# N_REMOVE") generated notes are uploaded and some deleted again over the HTTP API: queries/s, p50/p95/p99 latency,
# errors, and answers naming a document more than 1 s after its DELETE (scripts/load_test.py --help). WRITES= reads only.
# The server it starts has the rate limit off (KB_RATE_LIMIT=off): every client has the same address.
CLIENTS ?= 8
DURATION ?= 60
WORKERS ?= 2
THREADS ?= 1
WRITES ?= 20 10
load: index
	$(BIN)/python scripts/load_test.py --data-dir $(DATA_DIR) --clients $(CLIENTS) --duration $(DURATION) \
	  --workers $(WORKERS) --threads $(THREADS) $(if $(strip $(WRITES)),--during-api-writes $(WRITES))

# Rebuild the PDF, PPTX, DOCX, Markdown and HTML files of corpus/ from corpus/src/.
corpus: install
	$(BIN)/python corpus/build.py

clean:
	rm -rf $(VENV) var build *.egg-info
