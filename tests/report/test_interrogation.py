"""The interrogation's figures render through report.figures.render, as every figure does."""

from __future__ import annotations

from mlproj.analyse.types import BinnedMetric, MetricBin, SensitivityCurve
from mlproj.report.figures import render
from mlproj.report.interrogation import bins_data, bins_stem, sensitivity_data, sensitivity_stem


def test_sensitivity_and_bins_figures_render_as_png_and_pdf_with_missing_values():
    curve = SensitivityCurve("r", [16.0, 18.0, 22.0], "p(galaxy)", [[0.9, None, 0.1], [0.8, 0.5, 0.2]], "g_r",
                             [0.1, 0.9])
    png, pdf = render("sensitivity", sensitivity_data(curve))
    assert png.startswith(b"\x89PNG") and pdf.startswith(b"%PDF")
    binned = BinnedMetric("r", "roc_auc", 0.9, 0.01, True, 0.9,
                          [MetricBin(16.0, 19.8, 100, 0.97, (0.93, 0.99), "bootstrap BCa", "reached"),
                           MetricBin(19.8, 22.0, 100, None, (None, None), "none", "undetermined")], 19.8, "")
    png, pdf = render("metric_bins", bins_data(binned))
    assert png.startswith(b"\x89PNG") and pdf.startswith(b"%PDF")


def test_figure_stems_are_file_names_whatever_the_feature_is_called():
    assert sensitivity_stem("u-g") == "sensitivity-u-g" and bins_stem("mag r (AB)") == "metric-by-mag_r_AB_"
