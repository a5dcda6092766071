"""The bad-config fixtures of the exporter and the bridge state their own expected errors."""

from __future__ import annotations

from pathlib import Path


def expected_errors(path: Path) -> list[str]:
    """The `# error: ` header lines: exactly the errors the file must produce, in order."""
    expected = [
        line.removeprefix("# error: ")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("# error: ")
    ]
    assert expected, f"{path.name} must start with '# error: ' lines"
    return expected
