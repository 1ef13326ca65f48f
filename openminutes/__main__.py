"""`python -m openminutes` is the `openminutes` command."""

from openminutes.runtime.cli import main

raise SystemExit(main())
