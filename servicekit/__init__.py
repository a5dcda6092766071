"""The shared core of the exporter, the SMS bridge and the status page.

`secrets` (`Secret` and the one redaction routine, reading secret files), `logs` (JSON
lines with secrets scrubbed), `config` (the config kernel on pydantic, errors by YAML path),
`errors`, `durations`, `listen`, `clock` (the clock protocol and `IST`), `match` (response
matching) and `metrics` (the runtime collectors).
"""
