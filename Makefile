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

.PHONY: install tesseract browser index run test corpus eval bench clean

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

# Quality of the three retrieval modes on the corpus questions and on SciFact (first run builds
# the SciFact index, about 10 minutes on 2 cores).
eval: install
	$(BIN)/kb eval corpus --split test --data-dir $(DATA_DIR)
	$(BIN)/kb eval $(SCIFACT) --split test --data-dir $(DATA_DIR)

# Warm query latency on the SciFact index.
bench: install
	$(BIN)/kb bench $(SCIFACT) --data-dir $(DATA_DIR)

# Rebuild the PDF, PPTX, DOCX, Markdown and HTML files of corpus/ from corpus/src/.
corpus: install
	$(BIN)/python corpus/build.py

clean:
	rm -rf $(VENV) var build *.egg-info
