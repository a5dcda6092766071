"""The one Jinja2 environment of the status page, the runbooks and the report.

Templates live in `statuspage/templates/`; every value is autoescaped (text, never markup,
unless the code hands over `Markup`, as the report's chart does) and an undefined name is an
error, not an empty string. `base_style.html` holds the look the page and the runbooks share.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

TEMPLATES = Environment(
    loader=PackageLoader("statuspage", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
)
