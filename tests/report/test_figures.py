"""Tests of mlproj.report.figures: every figure kind is drawn from small synthetic inputs and saved as
a PNG that is not blank and a PDF, including the edge cases (one class, equal scores, NaNs, undefined
means, a one-object class, a constant feature). No pixels are compared and nothing is timed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from mlproj.report import figure_data as fd
from mlproj.report import figures
from mlproj.science.metrics import wilson_interval

RNG = np.random.default_rng(0)


def saved(fig, folder: Path, stem: str) -> list[Path]:
    paths = figures.save(fig, folder, stem)
    assert paths == [folder / f"{stem}.png", folder / f"{stem}.pdf"]
    image = imread(paths[0])
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert float(np.var(image[..., :3])) > 1e-3, "blank PNG"
    assert paths[1].read_bytes().startswith(b"%PDF")
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]  # temporary files are gone
    return paths


def binary(n=300):
    pos = RNG.random(n) < 0.4
    return pos, pos + RNG.normal(0, 0.8, n)


def test_save_creates_the_folder_replaces_files_and_frees_the_figure(tmp_path):
    folder = tmp_path / "figures" / "nested"
    data = fd.pit_data([5, 9, 7, 11], [0, 0.25, 0.5, 0.75, 1])
    first = saved(figures.draw_pit(data), folder, "pit")
    fig = figures.draw_pit(data)
    second = saved(fig, folder, "pit")
    assert first == second and sorted(os.listdir(folder)) == ["pit.pdf", "pit.png"]
    assert fig.axes == []  # freed


def test_the_comparison_chart_with_undefined_values(tmp_path):
    data = fd.comparison_data(["dummy", "logistic", "historical", "hgb", "mlp"],
                              ["baseline", "baseline", "baseline", "candidate", "candidate"],
                              [0.5, 0.91, 0.88, 0.95, None], [0.0, 0.01, None, 0.004, None],
                              [(0.5, 0.5), (0.89, 0.93), None, (0.94, 0.96), None],
                              ["worse", "worse", "undetermined", None, None], "hgb", 0.93, 0.01, "ROC AUC", True)
    saved(figures.draw_comparison(data), tmp_path, "comparison")
    nothing = fd.comparison_data(["a"], ["candidate"], [None], [None], None, None, None, None, None, "RMSE", False)
    saved(figures.draw_comparison(nothing), tmp_path, "comparison-empty")


@pytest.mark.parametrize("log_x", [False, True])
def test_roc_and_completeness_contamination_with_edge_cases(tmp_path, log_x):
    pos, score = binary()
    score_nan = score.copy()
    score_nan[:5] = np.nan
    names = ["dummy", "logistic", "historical", "hgb", "one class"]
    roles = ["baseline", "baseline", "baseline", "candidate", "candidate"]
    labels = [pos, pos, pos, pos, np.ones(pos.size, bool)]
    scores = [np.full(pos.size, 0.5), score, score_nan, score + RNG.normal(0, 0.3, pos.size), score]
    op = fd.operating_point_at(pos, scores[3], 1.2, name="hgb")
    roc = fd.roc_data(names, roles, labels, scores, selected="hgb", operating=op, log_x=log_x)
    saved(figures.draw_roc(roc), tmp_path, "roc")
    cc = fd.completeness_contamination_data(names, roles, labels, scores, selected="hgb", operating=op, log_x=log_x)
    saved(figures.draw_completeness_contamination(cc), tmp_path, "cc")


def test_roc_of_a_single_class_only_still_draws(tmp_path):
    data = fd.roc_data(["m"], ["candidate"], np.zeros(20, bool), [np.arange(20.0)])
    saved(figures.draw_roc(data), tmp_path, "roc-one-class")


def test_predicted_vs_true_with_outliers_and_nans(tmp_path):
    z = RNG.gamma(2, 0.4, 500)
    zp = z + RNG.normal(0, 0.05, z.size) * (1 + z)
    zp[:3] = np.nan
    data = fd.predicted_vs_true_data(z, zp, target_name="redshift", outlier_bound=0.15, relative=True)
    saved(figures.draw_predicted_vs_true(data), tmp_path, "pvt")
    few = fd.predicted_vs_true_data([1.0, 2.0], [1.1, np.nan], target_name="mass")
    saved(figures.draw_predicted_vs_true(few), tmp_path, "pvt-few")


def test_the_pdf_of_a_dense_scatter_stays_small(tmp_path):
    y = RNG.normal(size=20000)
    data = fd.predicted_vs_true_data(y, y + RNG.normal(0, 0.3, y.size))
    pdf = saved(figures.draw_predicted_vs_true(data), tmp_path, "dense")[1]
    assert pdf.stat().st_size < 400_000  # rasterized: not 20,000 vector markers


def test_pit_histogram(tmp_path):
    counts, edges = np.histogram(RNG.beta(1.3, 1.3, 800), bins=10, range=(0, 1))
    saved(figures.draw_pit(fd.pit_data(counts.tolist(), edges.tolist())), tmp_path, "pit")


@pytest.mark.parametrize("with_edges", [False, True])
def test_reliability_diagram(tmp_path, with_edges):
    mean = [0.05, 0.25, None, 0.65, 0.9]
    counts = [400, 60, 0, 30, 200]
    observed = [0.04, 0.3, None, 0.6, 0.93]
    intervals = [wilson_interval(round(o * c), c) if o is not None else None for o, c in zip(observed, counts)]
    data = fd.reliability_data(mean, observed, counts, intervals, 0.021, label="hgb",
                               bin_edges=np.linspace(0, 1, 6).tolist() if with_edges else None)
    saved(figures.draw_reliability(data), tmp_path, "reliability")
    bare = fd.reliability_data([0.5], [0.4], [10], None, None, show_counts=False)
    saved(figures.draw_reliability(bare), tmp_path, "reliability-bare")


def test_coverage_by_predicted_sigma(tmp_path):
    sigma = np.exp(RNG.normal(-2, 1.0, 400))
    mu = RNG.normal(size=400)
    y = mu + RNG.normal(size=400) * sigma
    y[:4] = np.nan
    saved(figures.draw_coverage(fd.coverage_data(y, mu, sigma)), tmp_path, "coverage")
    saved(figures.draw_coverage(fd.coverage_data(y[4:20], mu[4:20], np.full(16, 0.1))), tmp_path, "coverage-few")


def test_corner_plot_of_classes_with_tiny_classes_a_constant_feature_nans_and_a_sentinel(tmp_path):
    X = np.vstack([RNG.normal(0, 1, (500, 4)), RNG.normal(2, 0.5, (40, 4)), RNG.normal(-2, 1, (1, 4)),
                   RNG.normal(1, 1, (3, 4))])
    X[:, 3] = 7.0  # constant
    X[:2, 0] = -99.0  # sentinel
    X[5, 1] = np.nan
    labels = np.repeat([0, 1, 2, 3], [500, 40, 1, 3])
    data = fd.corner_data(X, ["u-g", "g-r", "r-i", "flag"], labels, ["galaxy", "star", "qso", "other"])
    assert [c.style for c in data.classes] == ["contours", "points", "points", "points"]
    saved(figures.draw_corner(data), tmp_path, "corner")


@pytest.mark.parametrize("n, p", [(1, 3), (2, 1), (300, 1), (400, 2)])
def test_corner_plot_of_one_class_small_and_one_dimensional(tmp_path, n, p):
    X = RNG.normal(size=(n, p))
    saved(figures.draw_corner(fd.corner_data(X, [f"f{i}" for i in range(p)], np.zeros(n, int), ["galaxy"])),
          tmp_path, "corner")


def test_corner_plot_of_a_regression_with_all_nan_class(tmp_path):
    X = RNG.normal(size=(350, 3))
    saved(figures.draw_corner(fd.corner_data(X, ["a", "b", "c"])), tmp_path, "corner-regression")
    X2 = np.vstack([RNG.normal(size=(30, 2)), np.full((2, 2), np.nan)])
    data = fd.corner_data(X2, ["a", "b"], np.repeat([0, 1], [30, 2]), ["galaxy", "star"])
    assert data.classes[1].n_finite == 0
    saved(figures.draw_corner(data), tmp_path, "corner-nan-class")


def test_role_colours_are_fixed_and_distinct():
    colours = [figures.role_colour(r) for r in ("dummy", "historical", "baseline", "candidate")]
    assert len(set(colours + [figures.role_colour("candidate", selected=True)])) == 5
    assert set(colours) <= set(figures.OKABE_ITO.values())
