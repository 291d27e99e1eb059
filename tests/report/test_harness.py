"""The report's Test harness and Interrogation sections, from typed parts (no run)."""

from __future__ import annotations

from mlproj.analyse.types import (
    BinnedMetric,
    HarnessResult,
    InterrogationResult,
    MetricBin,
    SensitivityCurve,
    Summary,
)
from mlproj.report.harness import harness_section
from mlproj.report.interrogation import bins_data, interrogation_section, sensitivity_data
from mlproj.verdict.judge import harness_check
from mlproj.verdict.types import Verdict

RESULTS = [
    HarnessResult("harness: invariance (permute s)", "invariance", "s shuffled across 150 held-out test objects",
                  "lr", "changed class", 0.55, 0.05, True, False, 150, "82 of 150 changed"),
    HarnessResult("harness: hybrid (galaxy + galaxy → galaxy)", "hybrid", "200 pairs", "lr", "as expected", 0.97,
                  0.9, False, True, 200, "194 of 200"),
]


def _summary(**parts) -> Summary:
    return Summary("p", "classification", 2, 1, 0.9, None, [], [], **parts)


def _verdict(summary: Summary) -> Verdict:
    return Verdict("fail", "lr", None, None, None, [harness_check(r) for r in summary.harness or []])


def test_the_harness_table_shows_each_check_measured_against_its_tolerance():
    summary = _summary(harness=RESULTS)
    section = harness_section(summary, _verdict(summary))
    table = next(b for b in section.blocks if hasattr(b, "rows"))
    assert table.headers == ("check", "what it does", "measured", "tolerance", "passed")
    assert table.rows[0][0] == "invariance (permute s)" and table.rows[0][2] == "55% (changed class)"
    assert table.rows[0][3] == "≤ 5%" and table.rows[0][4] == "FAILED"
    assert table.rows[1][3] == "≥ 90%" and table.rows[1][4] == "passed"
    assert any("82 of 150 changed" in getattr(b, "text", "") for b in section.blocks)  # why it failed


def test_no_harness_no_section_and_old_summaries_load_without_one():
    assert harness_section(_summary(), _verdict(_summary())) is None
    stored = _summary(harness=RESULTS).to_dict()
    assert Summary.from_dict(stored).harness == RESULTS
    del stored["harness"]
    assert Summary.from_dict(stored).harness is None and "harness" not in _summary().to_dict()
    assert "interrogation" not in _summary().to_dict()


def test_the_interrogation_section_tables_the_bins_and_says_how_far_the_finish_line_holds():
    bins = BinnedMetric("r", "accuracy", 0.9, 0.02, True, 0.9,
                        [MetricBin(16.0, 19.8, 100, 0.97, (0.93, 0.99), "Wilson", "reached"),
                         MetricBin(19.8, 22.0, 100, 0.7, (0.6, 0.78), "Wilson", "not_reached")], 19.8,
                        "the finish line 0.9 − 0.02 is met up to r = 19.8 (bins 1–1 of 2)")
    curve = SensitivityCurve("r", [16.0, 22.0], "p(galaxy)", [[0.9, 0.2]])
    summary = _summary(interrogation=InterrogationResult("lr", [curve], [bins], None, ["a note"]))
    section = interrogation_section(summary, {})
    texts = [getattr(b, "text", "") for b in section.blocks]
    assert any("met up to r = 19.8" in t for t in texts) and "a note" in texts
    table = next(b for b in section.blocks if hasattr(b, "rows"))
    assert table.rows[1][-1] == "not reached" and table.rows[0][0] == "[16.00, 19.80]"
    assert Summary.from_dict(summary.to_dict()).interrogation == summary.interrogation
    data = bins_data(bins)
    assert data.state == ("reached", "not_reached") and data.met_up_to == 19.8
    assert sensitivity_data(curve).probability and sensitivity_data(curve).labels == ("",)
