"""openminutes command line; `python bot.py run` is the same as the `openminutes` command."""

import sys

from openminutes.runtime.cli import main

if __name__ == "__main__":
    sys.exit(main())
