"""A search worker starts light: importing the web app loads no extractor and no PyTorch.

(tests/test_onnx_runtime.py checks that a real search stays off PyTorch; this checks the import alone, without a model.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

# The file readers (0.3 s of imports) and PyTorch: only indexing needs them.
INDEXING_ONLY = ("pypdfium2", "docx", "pptx", "bs4", "markdown_it", "PIL", "torch", "sentence_transformers", "datasketch")


def test_importing_the_web_app_imports_no_extractor_and_no_pytorch(tmp_path):
    probe = ("import json, sys; import search_app.wsgi; from indexer import SUPPORTED_FORMATS, extract; "
             f"print(json.dumps(sorted(name for name in {INDEXING_ONLY!r} if name in sys.modules)))")
    environment = {**os.environ, "KB_DATA_DIR": str(tmp_path / "data"), "KB_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=environment)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
