"""State-wide status page and reports: reads Prometheus and Alertmanager, keeps no state.

Layers, each usable on its own (the monthly report builds on the first three):

- `statuspage.sources`: async clients for Prometheus's HTTP API and Alertmanager's API v2;
  one exception type, `SourceError`, whose message names what could not be read.
- `statuspage.history`: pure functions from query results to daily availability, incidents,
  maintenance windows and data gaps, in IST calendar days.
- `statuspage.reading`: the PromQL and the calls that feed `history` (async).
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
