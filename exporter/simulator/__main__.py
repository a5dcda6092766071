"""Entry point for ``python -m exporter.simulator``: runs :func:`exporter.simulator.cli.main`."""

import sys

from exporter.simulator.cli import main

sys.exit(main())
