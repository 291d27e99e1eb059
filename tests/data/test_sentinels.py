"""Sentinels and missing measurements (paper §5.1): codes never reach an estimator as numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlproj.data.dataset import load_dataset
from mlproj.plan.estimators import build_estimator, model_specs
from mlproj.project.loading import parse_project

LINEAR = """
name: linear
objective: {{statement: RR Lyrae ab from light-curve attributes, task: classification}}
data:
  path: {path}
  label: LCtype
  features: [ug, gi, iK, JK, logP, Ampl, skew, kurt]
  {sentinels}
  missing: impute
classes:
  rrab: "LCtype == 1"
  other: "LCtype in [2, 4, 5, 6]"
positive: rrab
metric: {{primary: roc_auc}}
finish_line: {{threshold: 0.99, margin: 0.002}}
validation: {{folds: 3, repeats: 1}}
"""


def _linear(shared_data: Path, sentinels: str):
    path = shared_data / "linear-variables" / "linear_attributes.csv"
    text = LINEAR.format(path=path, sentinels=sentinels)
    return parse_project(text, shared_data / "mlproj.yaml")


def test_linear_ampl_sentinel_never_reaches_an_estimator(shared_data):
    raw = pd.read_csv(shared_data / "linear-variables" / "linear_attributes.csv")
    assert np.isclose(raw["Ampl"], -99.99).sum() == 3  # the quirk the README documents

    without = load_dataset(_linear(shared_data, ""))
    ampl = without.feature_names.index("Ampl")
    assert np.isclose(without.X[:, ampl], -99.99).sum() == 3

    loaded = _linear(shared_data, 'sentinels: {Ampl: [-99.99]}')
    dataset = load_dataset(loaded)
    column = dataset.X[:, dataset.feature_names.index("Ampl")]
    assert not np.isclose(column, -99.99).any()
    assert np.isnan(column).sum() == 3
    assert any("Ampl (3)" in w for w in dataset.warnings)

    # What the estimator is fitted on: the imputer replaces NaN by the median and adds an indicator;
    # no value anywhere near the sentinel survives the pipeline's preprocessing.
    spec = next(s for s in model_specs(loaded.project) if s.name == "logistic")
    pipeline = build_estimator(spec, "classification", seed=0)
    pipeline.fit(dataset.X, dataset.y)
    transformed = pipeline[:-1].transform(dataset.X)
    assert np.isfinite(transformed).all()
    imputed = pipeline[0].transform(dataset.X)[:, dataset.feature_names.index("Ampl")]
    assert imputed.min() > 0  # amplitudes are positive; -99.99 is gone
    assert transformed.shape[1] == dataset.X.shape[1] + 1  # one indicator column (only Ampl has gaps)


def test_wildcard_sentinels_apply_to_every_numeric_column(tmp_path):
    frame = pd.DataFrame({"u": [18.0, -99.0, 19.0, 20.0] * 10, "g": [17.0, 18.0, -9999.0, 19.0] * 10,
                          "class": ["STAR", "GALAXY"] * 20})
    frame.to_csv(tmp_path / "cat.csv", index=False)
    text = """
name: t
objective: {statement: s, task: classification}
data: {path: cat.csv, label: class, sentinels: {"*": [-99, -9999]}}
classes: {galaxy: "class == 'GALAXY'", star: "class == 'STAR'"}
positive: galaxy
metric: {primary: roc_auc}
finish_line: {threshold: 0.9}
validation: {folds: 2, repeats: 1}
"""
    (tmp_path / "mlproj.yaml").write_text(text)
    dataset = load_dataset(parse_project(text, tmp_path / "mlproj.yaml"))
    assert np.isnan(dataset.X).sum() == 20
    assert not np.isin(dataset.X, [-99, -9999]).any()


def test_sentinel_for_an_unknown_column_is_an_error(tmp_path):
    from mlproj.errors import DataError

    pd.DataFrame({"u": [1.0] * 20, "class": ["A", "B"] * 10}).to_csv(tmp_path / "cat.csv", index=False)
    text = """
name: t
objective: {statement: s, task: classification}
data: {path: cat.csv, label: class, sentinels: {uu: [-99]}}
classes: {a: "class == 'A'", b: "class == 'B'"}
positive: a
metric: {primary: roc_auc}
finish_line: {threshold: 0.9}
validation: {folds: 2, repeats: 1}
"""
    with pytest.raises(DataError, match="sentinel column 'uu'"):
        load_dataset(parse_project(text, tmp_path / "mlproj.yaml"))
