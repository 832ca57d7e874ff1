"""`python -m codefusion.server`: the `codefusion` command."""

import sys

from .cli.main import main

sys.exit(main())
