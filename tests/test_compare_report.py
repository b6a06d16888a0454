"""What ``kb bench --compare`` reports, from made-up figures: ratios favour this project above 1, "—" for what is missing."""

from __future__ import annotations

from dataclasses import replace

from indexer.evaluation.bench import LatencyReport, Machine
from indexer.evaluation.compare_report import HANDWRITTEN, OURS, TXTAI, CompareSettings, Comparison, StackFigures


def figures(name: str, build_seconds: float, forward_seconds: float | None, p50_ms: float, ndcg: float) -> StackFigures:
    """One stack's figures on 100 passages, for the dense mode only."""
    latency = {"dense": LatencyReport(queries=20, mode="dense", p50_ms=p50_ms, p95_ms=2 * p50_ms, mean_ms=p50_ms, max_ms=3 * p50_ms)}
    return StackFigures(name=name, passages=100, build_seconds=build_seconds, forward_passages=100, forward_seconds=forward_seconds,
                        latency=latency, cold_start_runs=(3.0, 1.0, 2.0), quality={"dense": {"ndcg@10": ndcg}})


def comparison(txtai: StackFigures | None = None) -> Comparison:
    machine = Machine(cpu="Test CPU", cores=2, load_average=(0.1, 0.2, 0.3), date="2024-01-01")
    return Comparison(dataset="scifact", split="test", questions=50, settings=CompareSettings(modes=("dense",), queries=20),
                      machine=machine, ours=figures(OURS, 10.0, 5.0, 10.0, 0.5),
                      handwritten=figures(HANDWRITTEN, 20.0, 4.0, 30.0, 0.4), txtai=txtai)


def rows_by_figure(report: Comparison) -> dict:
    return {row.figure: row for row in report.rows()}


def test_ratios_are_theirs_over_ours_for_times_and_ours_over_theirs_for_rates_and_quality():
    rows = rows_by_figure(comparison())
    assert rows["build from nothing (s)"].ratios == (2.0,)
    assert rows["build (passages/s)"].values == (10.0, 5.0) and rows["build (passages/s)"].ratios == (2.0,)
    assert rows["forward pass (passages/s)"].ratios == (0.8,)
    assert rows["dense p50 (ms)"].ratios == (3.0,)
    assert rows["cold start, one question (s)"].values == (2.0, 2.0)  # the median of the runs
    assert rows["nDCG@10 dense"].ratios == (1.25,)


def test_table_without_txtai_has_no_txtai_columns():
    table = comparison().to_table()
    assert "scifact (test): 100 passages, 50 questions (nDCG on all, latency on 20 warm, k=10)" in table
    assert "machine: Test CPU, 2 cores available" in table
    assert f"| {OURS} | {HANDWRITTEN} | ratio |" in table.replace("  ", "")
    assert TXTAI not in table and "txtai" not in table


def test_a_figure_txtai_lacks_is_a_dash_in_the_table_and_null_in_the_json():
    report = comparison(txtai=figures(TXTAI, 40.0, None, 20.0, 0.5))
    forward = rows_by_figure(report)["forward pass (passages/s)"]
    assert forward.values == (20.0, 25.0, None) and forward.ratios == (0.8, None)
    line = next(line for line in report.to_table().splitlines() if line.startswith("| forward pass"))
    assert [cell.strip() for cell in line.strip("|").split("|")] == ["forward pass (passages/s)", "20.0", "25.0", "0.80", "—", "—"]
    assert TXTAI in report.to_table()
    data = report.to_dict()
    assert list(data["stacks"]) == ["this_project", "handwritten", "txtai"]
    assert data["stacks"]["txtai"]["forward_seconds"] is None and data["stacks"]["txtai"]["forward_passages_per_s"] is None
    row = next(row for row in data["rows"] if row["figure"] == "build from nothing (s)")
    assert row == {"figure": "build from nothing (s)", "this_project": 10.0, "handwritten": 20.0, "txtai": 40.0,
                   "ratio": 2.0, "txtai_ratio": 4.0}


def test_json_without_txtai_has_two_stacks_and_no_txtai_ratio():
    data = comparison().to_dict()
    assert list(data["stacks"]) == ["this_project", "handwritten"]
    assert (data["passages"], data["questions"], data["timed_questions"], data["k"]) == (100, 50, 20, 10)
    assert all("txtai_ratio" not in row and "txtai" not in row for row in data["rows"])
    assert data["stacks"]["this_project"]["cold_start_runs"] == [3.0, 1.0, 2.0]


def test_a_zero_time_of_ours_leaves_the_ratio_undefined():
    report = replace(comparison(), ours=figures(OURS, 10.0, 5.0, 0.0, 0.5))
    assert rows_by_figure(report)["dense p50 (ms)"].ratios == (None,)
