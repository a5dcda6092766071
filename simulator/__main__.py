"""Entry point for ``python -m simulator``: runs :func:`simulator.cli.main`."""

import sys

from simulator.cli import main

sys.exit(main())
