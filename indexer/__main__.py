"""``python -m indexer`` is the ``kb`` command."""

from .cli import main

main(prog_name="kb")
