"""The exception base class of every service, and the one `ConfigError`.

`ServiceError` is what a service raises for a problem the operator can fix (bad config,
unreadable file); `main()` functions catch it and print it without a traceback. Bugs stay
ordinary exceptions.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A problem the operator can fix, reported without a traceback."""


class ConfigError(ServiceError):
    """Every problem found in a config file, one `path: message` line each.

    `errors` is the list (in document order); `source` the file it came from, if any.

    >>> str(ConfigError(["targets[0].url: is required"], source="exporter.yml"))
    'exporter.yml: 1 error(s)\\ntargets[0].url: is required'
    """

    def __init__(self, errors: list[str], *, source: str = "") -> None:
        self.errors = list(errors)
        self.source = source
        head = f"{source}: " if source else ""
        super().__init__(head + f"{len(self.errors)} error(s)\n" + "\n".join(self.errors))
