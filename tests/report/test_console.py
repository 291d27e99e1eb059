"""Tests of mlproj.report.console: the console report renders the typed Summary and Verdict and
computes nothing the stages did not (a comparison's SE is the verdict's)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from rich.cells import cell_len
from rich.console import Console

from mlproj.analyse.types import DataDescription, TestCaseScores, TestScores, TestSet
from mlproj.report import console
from mlproj.verdict.judge import judge
from mlproj.verdict.types import Verdict
from tests.verdict.test_judge import scores, standard, summary, uncertain_case


def rendered(render, *args, **kwargs) -> str:
    out = Console(record=True, width=200, highlight=False, markup=False, emoji=False)
    render(out, *args, **kwargs)
    return out.export_text()


def verdict_line(text: str) -> str:
    """The VERDICT line, unwrapped."""
    return " ".join(text[text.index("VERDICT:"):].split())


def test_the_verdict_line_the_tables_and_the_criteria():
    s = summary(standard(scores(0.95)))
    text = rendered(console.print_verdict, judge(s), s)
    assert "cross-validated roc_auc over 2 × 5 folds: mean ± corrected SE, 90% interval" in text
    assert "hgb ◀ selected" in text and "Paired comparisons of the selected hgb with every other model" in text
    assert "finish_line" in text and "beats_trivial_baseline" in text
    last = verdict_line(text)
    # the verdict line says why (the finish line by its interval), then which model it is about
    assert last.startswith("VERDICT: PASS — finish line reached: the cross-validated 90% interval [")
    assert last.endswith("(selected hgb).")
    assert "Finish line 0.9 − 0.01: reached — the cross-validated 90% interval [" in text


def test_the_verdict_line_says_why_it_is_undetermined():
    from tests.verdict.test_judge import held_out_interval

    s = summary(standard(scores(0.97, 0.002), threshold=0.96, margin=0.005), test=held_out_interval((0.944, 0.974), 0.96))
    text = rendered(console.print_verdict, judge(s), s)
    last = verdict_line(text)
    assert last.startswith("VERDICT: UNDETERMINED — finish line undetermined: the test 90% interval [0.944, 0.974]")
    assert "straddles 0.96 − 0.005; about 10× more test objects would decide" in last
    assert "Finish line 0.96 − 0.005: undetermined — the test 90% interval" in text


def test_a_verdict_written_before_it_said_why_prints_as_it_did():
    s = summary(standard(scores(0.95)))
    old = judge(s)
    old.reason, old.selection_reason = old.selection_reason, None
    last = rendered(console.print_verdict, old, s).rstrip().splitlines()[-1]
    assert last.startswith("VERDICT: PASS — selected hgb: hgb has the best mean")


def test_the_comparison_table_prints_the_verdicts_standard_error():
    s = summary(standard(scores(0.95)))
    verdict = judge(s)
    first = verdict.comparisons[0]
    # An SE far smaller than the interval's width would suggest: its digits decide the print.
    verdict.comparisons[0] = dataclasses.replace(first, difference=0.15, interval=(0.1, 0.2), se=0.001)
    text = rendered(console.print_verdict, verdict, s)
    assert "[0.1000, 0.2000]" in text and "0.1500" in text  # 2 significant digits of the SE 0.001
    verdict.comparisons[0] = dataclasses.replace(first, difference=0.15, interval=(0.1, 0.2), se=0.3)
    assert "[0.10, 0.20]" in rendered(console.print_verdict, verdict, s)  # (high - low) / 3.29 would give 3


def test_the_uncertainty_table_states_the_nominal_coverages_of_the_verdict():
    s = summary(uncertain_case())
    s.test = TestSet({"hgb": TestScores("hgb", 100, {"z": TestCaseScores({"rmse": 0.03})})}, uses=1)
    verdict = judge(s)
    text = rendered(console.print_verdict, verdict, s)
    assert "Predicted uncertainties of hgb (Gaussian σ; coverage should match 0.683 and 0.95):" in text
    assert "68% coverage" in text and "95% coverage" in text and "test 68% / 95%" in text
    assert "CRPS of residual vs global: improved" in text
    # a verdict written before it recorded the nominal coverages: the definitions themselves
    old = Verdict.from_dict(verdict.to_dict())
    old.selections[0].uncertainty.nominal = None
    assert "coverage should match 0.683 and 0.95" in rendered(console.print_verdict, old, s)


def test_failed_fits_are_shown_before_the_tables_and_not_repeated():
    hgb = scores(0.95)
    hgb[3] = None
    s = summary(standard(hgb), failed={"hgb": 1})
    lines = rendered(console.print_verdict, judge(s), s).splitlines()
    failed = [i for i, line in enumerate(lines) if "1 of 10 fits failed" in line]
    assert len(failed) == 1 and lines[failed[0]].startswith("failed fits: hgb")
    assert failed[0] < next(i for i, line in enumerate(lines) if "cross-validated" in line)


def test_data_and_plan():
    data = DataDescription("/somewhere/catalogue.csv", 120, 100, {"matching no class": 20}, {"star": 60, "qso": 40},
                           ["u", "g"], 80, 20)
    text = rendered(console.print_data, data, "star")
    assert text.splitlines() == ["Catalogue catalogue.csv: 120 rows read, 100 used, 2 features (u, g)",
                                 "  dropped 20 rows matching no class", "  classes: star 60, qso 40; positive: star"]
    assert "classes" not in rendered(console.print_data, dataclasses.replace(data, classes={}), None)
    assert console.count(1, "fold") == "1 fold" and console.count(3, "fold") == "3 folds"


def test_the_console_report_needs_no_statistics():
    """`mlproj verdict` prints a stored run without numpy or scipy (DESIGN §8)."""
    code = ("import sys; import mlproj.report.console, mlproj.report.junit, mlproj.workflow.review; "
            "print(','.join(m for m in ('numpy', 'scipy', 'sklearn', 'mlproj.science.stats') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == ""


def test_printed_digits_are_honest():
    """Issue 22.14: a held-out value beside "mean ± SE" gets the SE's decimals (not "0.03" beside
    "0.03315 ± 0.00087"), a probability is never rounded to a certainty, Wilson bounds keep zeros."""
    s = summary(standard(scores(0.95)))
    verdict = judge(s)
    selected = verdict.selected_model
    se = s.cases[0].models[selected].metrics["roc_auc"].se
    s.test = TestSet({selected: TestScores(selected, 100, {"star": TestCaseScores({"roc_auc": 0.949995})})}, uses=1)
    first = verdict.comparisons[0]
    verdict.comparisons[0] = dataclasses.replace(first, p_better=0.99998, p_equivalent=0.00002, p_worse=0.0)
    text = rendered(console.print_verdict, verdict, s)
    from mlproj.science.numbers import significant

    mean = significant(s.cases[0].models[selected].metrics["roc_auc"].mean, se).split(" ±")[0]
    assert f"{mean} ± " in text
    assert f"roc_auc = {0.949995:.{len(mean.split('.')[1])}f}" in text  # the decimals of its neighbour
    row = next(line for line in text.splitlines() if line.lstrip("│ ").startswith(f"{first.b} vs {first.a}"))
    assert "> 0.999" in row and "< 0.001" in row and " 1 " not in row.replace("│", " ")


# ------------------------------------------------------------------ readable at 80 columns (issue 23.6)

import re  # noqa: E402

import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _at_width(width: int, render, *args) -> str:
    out = Console(record=True, width=width, highlight=False, markup=False, emoji=False)
    render(out, *args)
    return out.export_text()


@pytest.mark.parametrize("width", [80, 120])
def test_the_verdict_is_readable_without_truncation(width):
    s = summary(standard(scores(0.95)))
    verdict = judge(s)
    text = _at_width(width, console.print_verdict, verdict, s)
    regression = summary(uncertain_case())
    text += _at_width(width, console.print_verdict, judge(regression), regression)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    words = set(re.findall(r"\S+", text))
    for comparison in verdict.comparisons:  # decisions, names and probabilities whole
        assert comparison.decision in words
        assert console.probability(comparison.p_better) in text
    for needed in ("P(better)", "P(equiv.)", "P(worse)", "improvement"):
        assert needed in words
    assert not re.search(r"\de-\d", text)  # no 2.22e-16 for a probability


def test_probabilities_are_bounded_not_scientific():
    assert console.probability(2.22e-16) == "< 0.001"
    assert console.probability(1 - 1e-12) == "> 0.999"


_WORD = st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters="_.()=-/"), min_size=1,
                max_size=18)
_CELL = st.lists(_WORD, min_size=1, max_size=4).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(headers=st.lists(_WORD, min_size=1, max_size=8), width=st.integers(40, 160), data=st.data())
def test_print_table_never_cuts_a_word(headers, width, data):
    rows = data.draw(st.lists(st.lists(_CELL, min_size=len(headers), max_size=len(headers)), min_size=1,
                              max_size=4))
    _assert_every_word_shown(headers, rows, width)


def test_a_wide_character_cell_does_not_push_the_table_past_the_console():
    # rich's own collapse left this table 43 columns wide on a 40-column console, which cropped it
    headers, rows = ["0"] * 5, [["0", "0", "0 0 0 00", "0 0々々", "0000000000"]]
    text = _assert_every_word_shown(headers, rows, 40)
    assert max(cell_len(line) for line in text.splitlines()) <= 40


def _assert_every_word_shown(headers, rows, width):
    text = _at_width(width, console.print_table, headers, rows)
    assert "…" not in text
    shown = set(re.findall(r"[^\s│┃]+", text))
    # (a table too wide for the console prints each row as a block: its first cell, then
    # "header value" fields; the first column's header, e.g. "model", is implied)
    for cell in [*headers[1:], *(c for row in rows for c in row)]:
        for word in cell.split():
            if len(word) <= width - 4:  # a word wider than the console is folded, never cut
                assert word in shown, (word, text)
    return text
