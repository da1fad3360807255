"""The one table `make bench` prints (issue 15): per line, the figure, the machine's limit measured in the same
run, their ratio, and the goal. Absolute times on a shared machine vary several-fold; the ratio to a limit measured
minutes apart on the same machine does not, so goals are written against the ratio where there is a limit.

Each bench module records its lines with ``record(...)``; ``bench/run.py`` prints ``markdown()`` at the top of
``bench/results.md``, above the previous run's table (kept so a regression shows) and the detailed sections.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    name: str  # what is measured: "proforma generation + AR run, 1,000 customers x 10 services"
    figure: str  # the measured figure, with its unit: "1.84 s", "912 invoices/s", "27.1 ms p95"
    limit: str = ""  # the machine's limit measured in the same run: "plain COPY of the same rows 0.71 s"
    ratio: str = ""  # figure / limit, as the goal reads it: "2.6x"
    goal: str = ""  # "<= 3x COPY", ">= 800 invoices/s", "<= 30 ms p95"
    met: bool | None = None  # None: no goal to meet


LINES: list[Line] = []


def record(name: str, figure: str, *, limit: str = "", ratio: str = "", goal: str = "", met: bool | None = None):
    """Add a line to this run's table (in the order the benches run)."""
    line = Line(name, figure, limit, ratio, goal, met)
    LINES.append(line)
    return line


def markdown(title: str = "Summary of this run") -> list[str]:
    rows = [
        f"### {title}",
        "",
        "| figure | measured | limit in the same run | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for line in LINES:
        met = "" if line.met is None else ("yes" if line.met else "**no**")
        rows.append(f"| {line.name} | {line.figure} | {line.limit} | {line.ratio} | {line.goal} | {met} |")
    return [*rows, ""]
