"""Write the measured table of docs/reliability.md from the results file of tests/integration/test_faults.py.

    .venv/bin/python -m pytest tests/integration/test_faults.py   # writes var/reliability/results.json
    .venv/bin/python bin/reliability_table.py                      # rewrites the table in docs/reliability.md

Only the text between the two marker lines of the document changes. ``--check`` exits 1 when the document
does not show what the results file holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "var" / "reliability" / "results.json"
DOCUMENT = ROOT / "docs" / "reliability.md"
BEGIN = "<!-- reliability-table: begin (bin/reliability_table.py writes this part) -->"
END = "<!-- reliability-table: end -->"


def failed_cell(row: dict[str, Any]) -> str:
    if not row["failed"]:
        return "0"
    return f"{row['failed']} ({row['failed_reads']} reads, {row['failed_writes']} writes)"


def table(results: dict[str, dict[str, Any]]) -> str:
    moments = sorted({row["measured_at"] for row in results.values()})
    hosts = sorted({row["host"] for row in results.values()})
    lines = [
        f"Measured {moments[0]}{' to ' + moments[-1] if len(moments) > 1 else ''} on {', '.join(hosts)},",
        "by `pytest tests/integration/test_faults.py` (figures: `var/reliability/results.json`).",
        "",
        "| scenario | requests sent | failed | max latency | what the client saw |",
        "|---|---|---|---|---|",
    ]
    for scenario in sorted(results):
        row = results[scenario]
        sent = f"{row['sent']} ({row['reads']} reads, {row['writes']} writes)"
        saw = row["saw"].replace("|", "\\|")
        lines.append(f"| {scenario} | {sent} | {failed_cell(row)} | {row['max_latency_ms']} ms | {saw} |")
    return "\n".join(lines)


def render(document: str, results: dict[str, dict[str, Any]]) -> str:
    head, begin, rest = document.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not (begin and end):
        raise SystemExit(f"{DOCUMENT}: the marker lines are missing")
    return f"{head}{BEGIN}\n{table(results)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--check", action="store_true", help="only check that the document is up to date")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text())
    except (OSError, ValueError) as error:
        print(f"reliability_table: cannot read {args.results}: {error}", file=sys.stderr)
        return 1
    current = DOCUMENT.read_text()
    wanted = render(current, results)
    if args.check:
        if wanted != current:
            print(f"reliability_table: {DOCUMENT} does not show {args.results}", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(wanted)
    print(f"reliability_table: wrote {len(results)} rows into {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
