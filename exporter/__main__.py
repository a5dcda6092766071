"""`python -m exporter` is the `parichay-exporter` command."""

import sys

from exporter.cli import main

sys.exit(main())
