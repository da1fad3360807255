"""bench/results.md (issue 15): this run's summary table at the top, the previous run's summary table right below it
so a regression shows, then the detailed sections; a previous file without a summary table is kept whole at the
end, labelled."""

import os
from unittest import mock

import pytest

with mock.patch.dict(os.environ):  # bench.run points DATABASE_URL at the bench database when imported
    from bench import run, table


@pytest.fixture(autouse=True)
def lines(monkeypatch):
    monkeypatch.setattr(table, "LINES", [])
    table.record("PDF, 1-page invoice", "80 ms", limit="today's: 100 ms", ratio="0.80x", goal="<= 0.8x", met=True)


def results(run_line: str, previous: str) -> str:
    header = ["# Benchmark results", "", run_line, ""]
    return run.results_text(header=header, details=["### Details", "", "a detail", ""], previous=previous)


def test_the_previous_summary_table_is_kept_below_the_new_one():
    first = results("Run 2027-01-01 10:00 on M.", "")
    table.LINES[0] = table.Line("PDF, 1-page invoice", "120 ms", "today's: 100 ms", "1.20x", "<= 0.8x", False)
    second = results("Run 2027-01-02 10:00 on M.", first)
    this_run, previous, details = (
        second.index("### Summary of this run"),
        second.index("### Summary of the previous run (Run 2027-01-01 10:00 on M)"),
        second.index("### Details"),
    )
    assert this_run < previous < details
    assert "| 120 ms |" in second[this_run:previous] and "**no**" in second[this_run:previous]
    assert "| 80 ms |" in second[previous:details]
    assert second.count("### Summary of the previous run") == 1  # the one before that is not carried along


def test_a_previous_file_without_a_summary_table_is_kept_whole_at_the_end():
    old = "# Benchmark results\n\nRun 2026-12-01 02:32 on M.\n\n### Invoice PDFs\n\n| a | b |\n|---|---|\n"
    text = results("Run 2027-01-01 10:00 on M.", old)
    kept = text.index("## The previous run, as it was written (before the summary table existed)")
    assert text.index("### Summary of this run") < text.index("### Details") < kept
    assert "##### Invoice PDFs" in text[kept:] and "Run 2026-12-01 02:32 on M." in text[kept:]
