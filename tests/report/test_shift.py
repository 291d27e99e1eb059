from mlproj.analyse.types import (
    CaseResult,
    DataDescription,
    PrimaryMetric,
    ShiftFeature,
    ShiftHistogram,
    ShiftMetric,
    ShiftResult,
    Summary,
)
from mlproj.report.document import Table
from mlproj.report.shift import histogram_data, shift_lines, shift_section
from mlproj.verdict.shift import application_finish_line, finish_line_on_application

CASE = CaseResult("z", [], True, PrimaryMetric("sigma_nmad", {}, "sigma_nmad", False), ["sigma_nmad"], 0.02, 0.001)


def _shift(expected=(0.03, [0.028, 0.033]), required=True) -> ShiftResult:
    hist = ShiftHistogram("r", [16.0, 17.0, 18.0], [0.9, 0.1], [0.1, 0.9], [0.5, 0.5])
    return ShiftResult("weights", required, "faint.csv", 1000, 800, 0.93, [0.91, 0.95], 0.9, "bootstrap percentile",
                       [ShiftFeature("r", 0.92, 0.6, 14.0, 17.5), ShiftFeature("g", 0.6, 0.1, 15.0, 19.0)], 0.62,
                       85.0, 3, 20.0, 20.0, [hist], hist, hist,
                       [ShiftMetric("hgb", "sigma_nmad", 0.017, [0.016, 0.018], expected[0], expected[1],
                                    "weighted bootstrap", 0.9, 1000)], ["covariate shift: few objects"])


def test_the_section_shows_auc_features_ess_and_both_metrics():
    summary = Summary("p", "regression", 2, 1, 0.9, None, [], [CASE], shift=_shift())
    section = shift_section(summary, {}, "hgb")
    assert section.title == "Covariate shift"
    text = " ".join(getattr(b, "text", "") for b in section.blocks)
    assert "0.930 [0.910, 0.950]" in text and "effective sample size 85 of 1000" in text
    assert "expected on the application sample 0.03" in text and "few objects" in text
    tables = [b for b in section.blocks if isinstance(b, Table)]
    assert tables[0].rows[0][0] == "hgb" and tables[1].rows[0][0] == "r"
    assert shift_section(Summary("p", "regression", 2, 1, 0.9, None, [], [CASE]), {}) is None


def test_histogram_data_keeps_the_three_densities():
    data = histogram_data(_shift().histograms[0])
    assert data.edges == (16.0, 17.0, 18.0) and data.weighted == (0.5, 0.5)


def test_lines_name_the_driving_feature_first():
    lines = shift_lines(_shift(), "hgb")
    assert any(line.startswith("driven by r (AUC 0.92") for line in lines)


def test_the_application_finish_line_is_judged_on_the_weighted_interval():
    worse = application_finish_line(_shift(), CASE, "hgb")  # [0.028, 0.033] above 0.02 + 0.001
    assert worse.state == "not_reached" and worse.basis == "application"
    assert "application-weighted" in worse.detail
    good = application_finish_line(_shift((0.015, [0.014, 0.016])), CASE, "hgb")
    assert good.state == "reached"
    criterion = finish_line_on_application(_shift(), CASE, "hgb")
    assert criterion.status == "fail" and criterion.required
    optional = finish_line_on_application(_shift(required=False), CASE, "hgb")
    assert not optional.required
    assert application_finish_line(_shift(), CASE, "other") is None


def test_metrics_json_carries_the_shift_numbers():
    from mlproj.report.metrics import flat_metrics
    from mlproj.verdict.types import Verdict

    summary = Summary("p", "regression", 2, 1, 0.9, DataDescription(), [], [CASE], shift=_shift())
    verdict = Verdict("fail", "hgb", None, None, None, [], application=application_finish_line(_shift(), CASE, "hgb"))
    numbers = flat_metrics(summary, verdict)
    assert numbers["shift.domain_auc"] == 0.93 and numbers["shift.ess"] == 85.0
    assert numbers["shift.hgb.sigma_nmad.expected"] == 0.03
    assert numbers["finish_line.application.state"] == 0.0
    plain = flat_metrics(Summary("p", "regression", 2, 1, 0.9, DataDescription(), [], [CASE]), Verdict("fail", "hgb", None, None,
                                                                                      None, []))
    assert not any(k.startswith("shift.") for k in plain)
