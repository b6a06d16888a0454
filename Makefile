# Set-up, index, serve and test. Every target installs what it needs first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0
STAMP  := $(VENV)/.installed
DATA_DIR ?= var/kb
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install index run test corpus eval bench clean

install: $(STAMP)

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

test: install
	$(BIN)/python -m pytest

# Rebuild the PDF, PPTX, DOCX, Markdown and HTML files of corpus/ from corpus/src/.
corpus: install
	$(BIN)/python corpus/build.py

clean:
	rm -rf $(VENV) var build *.egg-info
