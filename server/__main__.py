"""`python -m codefusion.server`: the language server on stdio, as `codefusion-lsp` (the editors' fallback
when `codefusion-lsp` is not on PATH). The command-line tool is `codefusion` (codefusion.server.cli.main)."""

import sys

from .lsp.fast_start import main

sys.exit(main())
