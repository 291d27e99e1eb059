"""Tests of mlproj.analyse.types (and mlproj.verdict.types): the typed Summary and Verdict read
back every stored summary.json and verdict.json and write them again key for key, in order."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlproj.analyse.types import (
    CaseResult,
    DataDescription,
    Estimate,
    ModelInfo,
    ModelScores,
    PrimaryMetric,
    RateCounts,
    Summary,
    TestCaseScores,
    TestRate,
    TestScores,
    TestSet,
    finite,
    or_nan,
)
from mlproj.verdict.types import Verdict

GOLDEN = sorted((Path(__file__).resolve().parents[1] / "golden" / "expected").glob("*.json"))


def _text(value) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False, allow_nan=False)  # keeps the key order


def _with_volatile_fields(summary: dict) -> dict:
    """A golden record's summary as summary.json holds it: the record leaves out the fields that
    differ between two identical runs (fit times, the catalogue's absolute path)."""
    summary = dict(summary)
    summary["data"] = {"path": "/data/catalogue.csv", **summary["data"]}
    models = []
    for model in summary["models"]:
        keys = list(model)
        at = keys.index("simplicity") + 1
        models.append({k: model[k] for k in keys[:at]} | {"fit_seconds": 0.25} | {k: model[k] for k in keys[at:]})
    summary["models"] = models
    return summary


@pytest.mark.parametrize("record", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_every_stored_summary_and_verdict_reads_back_and_writes_the_same_json(record):
    stored = json.loads(record.read_text(encoding="utf-8"))
    summary = _with_volatile_fields(stored["summary"])
    assert _text(Summary.from_dict(summary).to_dict()) == _text(summary)
    recorded = stored["verdict"]
    # Records made before a field was added to verdict.json (a comparison's `se`) lack it.
    assert _text(_drop_added(Verdict.from_dict(recorded).to_dict(), recorded)) == _text(recorded)


@pytest.mark.parametrize("record", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_the_verdict_of_a_stored_summary_is_the_stored_verdict(record):
    from mlproj.verdict.judge import judge

    stored = json.loads(record.read_text(encoding="utf-8"))
    verdict = judge(Summary.from_dict(_with_volatile_fields(stored["summary"]))).to_dict()
    recorded = stored["verdict"]
    assert _text(_drop_added(verdict, recorded)) == _text(recorded)


def _drop_added(actual, recorded):
    """`actual` without the keys `recorded` lacks: fields added to verdict.json after it was written."""
    if isinstance(actual, dict) and isinstance(recorded, dict):
        return {k: _drop_added(actual[k], recorded[k]) for k in actual if k in recorded}
    if isinstance(actual, list) and isinstance(recorded, list) and len(actual) == len(recorded):
        return [_drop_added(a, r) for a, r in zip(actual, recorded)]
    return actual


def test_finite_and_its_inverse():
    assert finite(None) is None and finite(math.nan) is None and finite(math.inf) is None and finite(-math.inf) is None
    assert finite(1) == 1.0 and isinstance(finite(1), float) and finite(-0.5) == -0.5
    assert math.isnan(or_nan(None)) and or_nan(0.25) == 0.25


def test_optional_keys_are_written_only_when_present():
    case = TestCaseScores({"rmse": 0.1})
    assert case.to_dict() == {"metrics": {"rmse": 0.1}, "rates": {}}
    assert PrimaryMetric("rmse", {}, "rmse", False).to_dict() == {"name": "rmse", "params": {}, "label": "rmse",
                                                                   "greater_is_better": False}
    summary = Summary("p", "regression", 2, 1, 0.9, DataDescription(), [], [])
    assert "failed_fits" not in summary.to_dict()
    summary.failed_fits = 0
    assert "failed_fits" in summary.to_dict() and "val_train_ratio" not in summary.to_dict()
    summary.val_train_ratio = 0.8
    assert summary.to_dict()["val_train_ratio"] == 0.8


def test_a_test_rate_is_told_apart_by_its_threshold():
    counts = {"true_positives": 3, "false_positives": 1, "n_positive": 4, "n_negative": 10, "value": 0.75,
              "achieved_fpr": 0.1, "achieved_tpr": 0.75, "wilson": [0.3, 0.95], "confidence": 0.95}
    assert type(RateCounts.from_dict(counts)) is RateCounts
    tested = RateCounts.from_dict({**counts, "threshold": 0.5, "resolution": None})
    assert isinstance(tested, TestRate) and tested.threshold == 0.5
    assert tested.to_dict() == {**counts, "threshold": 0.5, "resolution": None}


def test_older_summaries_without_the_newer_keys_read_with_defaults():
    old = {"task": "classification", "folds": 2, "repeats": 1, "confidence": 0.9,
           "models": [{"name": "hgb", "role": "candidate", "simplicity": 2}],
           "cases": [{"name": "star", "primary": {"name": "roc_auc", "label": "roc_auc", "greater_is_better": True},
                      "threshold": 0.9, "margin": 0.01, "models": {"hgb": {"scores": [0.9, 0.95]}}}]}
    summary = Summary.from_dict(old)
    assert summary.project is None and summary.failed_fits is None and summary.warnings == []
    assert summary.models[0].failed_tasks == 0 and not summary.models[0].every_fit_failed
    (case,) = summary.cases
    assert case.required is True and case.primary.bounds is None and case.uncertainty_methods == []
    assert case.models["hgb"].scores == [0.9, 0.95] and case.models["hgb"].rates == {}


# ------------------------------------------------------------------------------ any summary reads back


numbers = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32))
names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
counts = st.integers(min_value=0, max_value=10_000)


@st.composite
def estimates(draw) -> Estimate:
    return Estimate(draw(numbers), draw(numbers), draw(numbers), draw(numbers), (draw(numbers), draw(numbers)),
                    draw(counts), draw(st.integers(2, 10)), draw(st.integers(1, 5)), 0.9)


@st.composite
def rates(draw, tested: bool = False) -> RateCounts:
    fields = (draw(counts), draw(counts), draw(counts), draw(counts), draw(numbers), draw(numbers), draw(numbers),
              (draw(numbers), draw(numbers)), 0.95)
    if tested:
        return TestRate(*fields, threshold=draw(numbers), resolution=draw(st.one_of(st.none(), names)))
    return RateCounts(*fields)


@st.composite
def cases(draw, model_names: list[str]) -> CaseResult:
    labels = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    n = draw(st.integers(1, 6))
    models = {m: ModelScores({label: draw(estimates()) for label in labels}, draw(st.lists(numbers, min_size=n,
                                                                                             max_size=n)),
                             draw(st.dictionaries(st.sampled_from(labels), rates(), max_size=2)))
              for m in model_names}
    return CaseResult(draw(names), draw(st.lists(st.integers(0, 5), max_size=2)), draw(st.booleans()),
                      PrimaryMetric(labels[0], {}, labels[0], draw(st.booleans()), draw(st.one_of(
                          st.none(), st.tuples(numbers, numbers)))),
                      labels, draw(st.floats(0, 1)), draw(st.floats(0, 0.1)), models=models)


@st.composite
def summaries(draw) -> Summary:
    model_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    models = [ModelInfo(name, draw(st.sampled_from(["baseline", "candidate"])), "X", {"depth": draw(counts)},
                        draw(st.booleans()), draw(st.integers(0, 3)), draw(numbers), draw(counts), draw(counts),
                        draw(st.lists(names, max_size=2))) for name in model_names]
    tested = draw(st.one_of(st.none(), st.just(model_names[0])))
    summary_cases = draw(st.lists(cases(model_names), min_size=1, max_size=2))
    test = None
    if tested is not None:
        test = TestSet({tested: TestScores(tested, draw(counts), {
            c.name: TestCaseScores({label: draw(numbers) for label in c.metrics},
                                   draw(st.dictionaries(st.sampled_from(c.metrics), rates(tested=True), max_size=1)))
            for c in summary_cases})}, uses=draw(st.integers(1, 3)))
    return Summary(draw(names), "classification", 5, 1, 0.9,
                   DataDescription("x.csv", draw(counts), draw(counts), {"dropped": draw(counts)}, {}, ["a", "b"], 8,
                                   2),
                   models, summary_cases, test=test, warnings=draw(st.lists(names, max_size=2)),
                   failed_fits=draw(st.one_of(st.none(), counts)))


@settings(max_examples=60, deadline=None)
@given(summaries())
def test_any_summary_goes_through_json_and_back_unchanged(summary):
    written = json.loads(json.dumps(summary.to_dict(), allow_nan=False))
    assert Summary.from_dict(written) == summary
    assert _text(Summary.from_dict(written).to_dict()) == _text(written)
