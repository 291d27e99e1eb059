"""Run the test harness (paper §2.4) on the selected model's final fit (the fit on the whole
development set, the model `mlproj predict` applies).

- invariance: on the held-out test objects (at most MAX_OBJECTS of them, seeded; their labels are
  not read, so the test score learns nothing), the inputs are perturbed — Gaussian noise at each
  object's measurement errors (`noise: errors`) or of a fixed σ (`noise: 0.05`), or columns
  shuffled across the objects (`permute`) — and derived features recomputed from the perturbed
  values. Classification: the fraction of objects whose most probable class changes must be at
  most `tolerance`; regression: the median |change| of the prediction must be.
- cases: a CSV of hand-crafted inputs (the raw columns; derived features computed as for the
  catalogue) and the expected class (column `expect`) or range (`<expect>_min`, `<expect>_max`).
- hybrid: random pairs of development objects of the two classes combined (magnitudes as summed
  fluxes, fluxes summed, or means), derived features recomputed; the fraction predicted as
  `expect` must reach `min_fraction`.

The seed is validation.seed, so a run gives the same harness numbers whatever its workers.
The perturbations and measures themselves are pure (mlproj.science.harness).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlproj.analyse.types import HarnessResult, finite
from mlproj.data.dataset import DerivedFeatures, feature_matrix, indicator, prepare_table, read_table
from mlproj.errors import ConfigError, DataError, MlprojError
from mlproj.plan.harness import criterion_name, min_fraction
from mlproj.project.expressions import parse_expression
from mlproj.project.schema import HarnessCheck
from mlproj.science import harness as checks

__all__ = ["MAX_OBJECTS", "ModelInputs", "load_final_model", "predict", "run_harness"]

MAX_OBJECTS = 20_000  # invariance is a fraction or a median: more objects change it by little


class ModelInputs:
    """What the checks need of a run: the project, the data as the model sees it, and the model."""

    def __init__(self, prepared, model_name: str, estimator):
        self.loaded = prepared.loaded
        self.dataset = prepared.dataset
        self.plan = prepared.plan
        self.model = model_name
        self.estimator = estimator
        self.task = prepared.plan.task_kind
        self.names = list(prepared.dataset.feature_names)
        self.derived = dict(self.loaded.project.data.derived)
        self.seed = self.loaded.project.validation.seed

    def predict(self, X: np.ndarray) -> np.ndarray:
        return predict(self.estimator, X, self.task, len(self.dataset.classes or []))

    @property
    def measured(self) -> list[str]:
        """The features read from the catalogue (not derived, no non-detection indicator)."""
        indicators = {indicator(c) for c in self.loaded.project.data.limits}
        return [n for n in self.names if n not in self.derived and n not in indicators]


def load_final_model(path: Path, allow_imports=()):
    """The fitted model, checked against the project's allow-list (with its third-party imports)."""
    from mlproj.plan.estimators import model_types
    from mlproj.store.model_files import load_model

    return load_model(path, model_types(allow_imports))


def predict(estimator, X: np.ndarray, task: str, n_classes: int) -> np.ndarray:
    """Class probabilities in class-index order, or regression values, as the fits predict."""
    from mlproj.execute.tasks import _probabilities

    if task == "classification":
        return _probabilities(estimator, X, n_classes)
    return np.asarray(estimator.predict(X), dtype=np.float64)


def run_harness(prepared, model_name: str | None, model_path: Path | None) -> list[HarnessResult]:
    """Every check of `harness:` on the selected model's final fit, in the order written."""
    harness = prepared.loaded.project.harness
    if not harness:
        return []
    if model_name is None or model_path is None or not Path(model_path).exists():
        why = ("no model was selected" if model_name is None else
               f"{model_name} has no fitted model to check (the historical method's output, or a failed final fit)")
        return [_unmeasured(check, model_name, why) for check in harness]
    inputs = ModelInputs(prepared, model_name, load_final_model(Path(model_path), prepared.loaded.project.allow_imports))
    results = []
    for index, check in enumerate(harness):
        run = {"invariance": invariance, "cases": cases, "hybrid": hybrid}[check.kind]
        results.append(run(inputs, check, index))
    return results


def _unmeasured(check: HarnessCheck, model: str | None, why: str) -> HarnessResult:
    at_most = check.kind == "invariance"
    return HarnessResult(criterion_name(check), check.kind, "", model, "", None,
                         check.tolerance if at_most else min_fraction(check), at_most, None, 0, why)


# ------------------------------------------------------------------------------ invariance


def invariance(inputs: ModelInputs, check: HarnessCheck, index: int) -> HarnessResult:
    loaded, dataset = inputs.loaded, inputs.dataset
    rows, where_rows = _invariance_rows(inputs)
    X = dataset.X[rows]
    rng = np.random.default_rng(inputs.seed)
    perturb = check.perturb
    if "permute" in perturb:
        columns = perturb["permute"]
        columns = [columns] if isinstance(columns, str) else list(columns)
        _check_features(inputs, columns, loaded.where("harness", index, "perturb", "permute"))
        changed = set(columns)
        X_new = checks.perturb_permute(X, _indices(inputs, columns), rng, _recompute(inputs, changed, rows, index))
        what = (f"{', '.join(columns)} shuffled across {len(rows)} {where_rows} (one permutation)"
                + _follows(inputs, changed))
    else:
        noise = perturb["noise"]
        if noise == "errors":
            if dataset.errors is None:
                raise ConfigError("a harness check adds noise at the measurement errors, but the project has no "
                                  "data.errors", where=loaded.where("harness", index, "perturb"),
                                  hint="add data.errors: {feature: error_column}, or give the noise's σ, "
                                       "e.g. perturb: {noise: 0.05}")
            with_errors = [n for j, n in enumerate(inputs.names) if (dataset.errors[:, j] > 0).any()]
            columns = list(check.features) if check.features else [
                n for n in with_errors if not (n in inputs.derived and _reads(inputs, n) & set(with_errors))]
            sigma = dataset.errors[rows]
            size = "each object's measurement errors (data.errors)"
        else:
            columns = list(check.features) if check.features else inputs.measured
            sigma = float(noise)
            size = f"σ = {float(noise):g}"
        _check_features(inputs, columns, loaded.where("harness", index, "features"))
        changed = set(columns)
        X_new = checks.perturb_noise(X, sigma, _indices(inputs, columns), rng,
                                     _recompute(inputs, changed, rows, index))
        what = (f"Gaussian noise of {size} added to {', '.join(columns)} of {len(rows)} {where_rows}"
                + _follows(inputs, changed))
    before, after = inputs.predict(X), inputs.predict(X_new)
    if inputs.task == "classification":
        value = checks.changed_fraction(before, after)
        changed_count = int(np.sum(checks.predicted_class(before) != checks.predicted_class(after)))
        measure = "changed class"
        detail = (f"{changed_count} of {len(rows)} {where_rows} ({_percent(value)}) changed their most probable "
                  f"class; at most {_percent(check.tolerance)} may")
    else:
        value = checks.median_change(before, after)
        measure = "median |Δ prediction|"
        detail = (f"the median |change| of the prediction over {len(rows)} {where_rows} is {value:.4g}; at most "
                  f"{check.tolerance:g} is allowed")
    passed = checks.passes(value, check.tolerance, at_most=True)
    return HarnessResult(criterion_name(check), "invariance", what, inputs.model, measure, finite(value),
                         check.tolerance, True, passed, len(rows), detail)


def _invariance_rows(inputs: ModelInputs) -> tuple[np.ndarray, str]:
    """The held-out test objects (the development ones when there is no test set), at most
    MAX_OBJECTS of them, seeded."""
    plan = inputs.plan
    rows, name = (np.asarray(plan.test), "held-out test objects") if len(plan.test) else (
        np.asarray(plan.development), "development objects")
    if len(rows) > MAX_OBJECTS:
        rows = np.sort(np.random.default_rng(inputs.seed).choice(rows, MAX_OBJECTS, replace=False))
    return rows, name


def _follows(inputs: ModelInputs, changed: set[str]) -> str:
    followed = [name for name in inputs.derived if name not in changed and _reads(inputs, name) & _closure(inputs, changed)]
    return f"; {', '.join(followed)} recomputed from them" if followed else ""


def _closure(inputs: ModelInputs, changed: set[str]) -> set[str]:
    touched = set(changed)
    for name in inputs.derived:
        if name not in changed and _reads(inputs, name) & touched:
            touched.add(name)
    return touched


def _reads(inputs: ModelInputs, name: str) -> set[str]:
    return set(parse_expression(inputs.derived[name], context=inputs.loaded.where("data", "derived", name)).names)


def _recompute(inputs: ModelInputs, changed: set[str], rows: np.ndarray, index: int, *,
               pairs: tuple[np.ndarray, np.ndarray] | None = None) -> DerivedFeatures | None:
    """The derived features that read a changed column (directly or through another derived
    feature), evaluated again from the changed values; a changed derived feature itself keeps
    its changed value. A column they read that is no feature comes from the catalogue (the mean
    of the two objects for a hybrid)."""
    steps, inputs_read, touched = [], set(), set(changed)
    for name, text in inputs.derived.items():
        if name in changed:
            continue
        where = inputs.loaded.where("data", "derived", name)
        names = set(parse_expression(text, context=where).names)
        if names & touched:
            steps.append((name, text, where))
            inputs_read |= names
            touched.add(name)
    if not steps:
        return None
    known = inputs.dataset.recompute.fixed if inputs.dataset.recompute is not None else {}
    fixed = {}
    for column in sorted(inputs_read - set(inputs.names) - set(inputs.derived)):
        if column not in known:
            raise DataError(
                f"harness check {index + 1} changes {', '.join(sorted(changed))}, from which a derived feature is "
                f"computed with the column '{column}', which is not a feature: it cannot be evaluated again",
                where=inputs.loaded.where("harness", index),
                hint=f"add '{column}' to data.features, or perturb other features")
        values = known[column]
        if pairs is not None:
            fixed[column] = checks.combine(values[pairs[0]], values[pairs[1]], "mean")
        else:
            fixed[column] = values[rows]
    return DerivedFeatures(tuple(inputs.names), tuple(steps), fixed)


def _check_features(inputs: ModelInputs, columns: list[str], where: str) -> None:
    unknown = [c for c in columns if c not in inputs.names]
    if unknown or not columns:
        raise ConfigError(f"a harness check names {', '.join(repr(c) for c in unknown) or 'no feature'}, which "
                          f"{'is not a feature' if len(unknown) == 1 else 'are not features'}" if unknown else
                          "a harness check has no feature to perturb", where=where,
                          hint=f"the features are: {', '.join(inputs.names)}")


def _indices(inputs: ModelInputs, columns: list[str]) -> list[int]:
    return [inputs.names.index(c) for c in columns]


def _percent(value: float) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{100 * value:.3g}%"


# ------------------------------------------------------------------------------ cases


def read_cases(inputs: ModelInputs, check: HarnessCheck, index: int):
    """The hand-crafted inputs of a cases check: (table, feature matrix), checked for every column
    the features and the expectation need (a DataError naming the file and the column)."""
    loaded = inputs.loaded
    path = loaded.resolve(check.path)
    where = loaded.where("harness", index, "path")
    if not path.is_file():
        raise DataError(f"the harness cases file {path} does not exist", where=where,
                        hint="harness paths are relative to the project file")
    table = read_table(path, where=where)  # an unreadable file: a DataError naming it
    expect = check.expect or "expect"
    needed = _raw_columns(inputs)
    if inputs.task == "classification":
        needed.append(expect)
    else:
        bounds = [f"{expect}_min", f"{expect}_max"]
        if not any(b in table.columns for b in bounds):
            needed.extend(bounds)
    missing = [c for c in dict.fromkeys(needed) if c not in table.columns]
    if missing:
        raise DataError(f"the harness cases file {path.name} has no column {', '.join(repr(c) for c in missing)}",
                        where=where, hint=f"it needs the raw feature columns ({', '.join(_raw_columns(inputs))}) and "
                        + (f"the expected class in '{expect}'" if inputs.task == "classification" else
                           f"the expected range in '{expect}_min' and/or '{expect}_max'")
                        + f"; it has: {', '.join(map(str, table.columns))}")
    if len(table) == 0:
        raise DataError(f"the harness cases file {path.name} has no rows", where=where,
                        hint="add one row per hand-crafted input")
    if inputs.task == "classification":
        classes = list(inputs.dataset.classes or [])
        unknown = sorted({str(v).strip() for v in table[expect]} - set(classes))
        if unknown:
            raise DataError(f"the harness cases file {path.name} expects the class "
                            f"{', '.join(repr(v) for v in unknown)} in column '{expect}', which is not one of the "
                            f"project's classes", where=where, hint=f"the classes are: {', '.join(classes)}")
    prepared = table.copy()
    try:
        _, _, derived = prepare_table(prepared, loaded)
        X = feature_matrix(prepared, inputs.names, loaded, derived)
    except MlprojError as exc:
        raise DataError(f"the harness cases file {path.name} cannot be read as the catalogue is: {exc.message}",
                        where=where, hint=exc.hint or "give it the columns and value types of the catalogue") from None
    return table, X


def check_harness(prepared) -> None:
    """What can be checked before any fit: the features each check names, the errors it needs,
    and every cases file (read and checked, column by column), so `mlproj check` reports them."""
    inputs = ModelInputs(prepared, "", None)
    for index, check in enumerate(inputs.loaded.project.harness):
        if check.kind == "cases":
            read_cases(inputs, check, index)
        elif check.kind == "hybrid" and check.features:
            _check_features(inputs, list(check.features), inputs.loaded.where("harness", index, "features"))
        elif check.kind == "invariance":
            if "permute" in check.perturb:
                columns = check.perturb["permute"]
                _check_features(inputs, [columns] if isinstance(columns, str) else list(columns),
                                inputs.loaded.where("harness", index, "perturb", "permute"))
            elif check.features:
                _check_features(inputs, list(check.features), inputs.loaded.where("harness", index, "features"))


def cases(inputs: ModelInputs, check: HarnessCheck, index: int) -> HarnessResult:
    table, X = read_cases(inputs, check, index)
    expect = check.expect or "expect"
    predictions = inputs.predict(X)
    n = len(table)
    if inputs.task == "classification":
        classes = list(inputs.dataset.classes or [])
        labels = [str(v).strip() for v in table[expect]]
        expected = np.array([classes.index(v) for v in labels])
        got = checks.predicted_class(predictions)
        ok = got == expected
        wrong = [f"row {i + 1}: {classes[got[i]]} (expected {labels[i]})" for i in np.flatnonzero(~ok)[:5]]
        what = f"{n} hand-crafted input{'s' if n != 1 else ''} of {check.path}, the expected class in column '{expect}'"
    else:
        low = _bound(table, f"{expect}_min", -np.inf)
        high = _bound(table, f"{expect}_max", np.inf)
        ok = (predictions >= low) & (predictions <= high)
        wrong = [f"row {i + 1}: {predictions[i]:.4g} (expected [{low[i]:g}, {high[i]:g}])"
                 for i in np.flatnonzero(~ok)[:5]]
        what = f"{n} hand-crafted input{'s' if n != 1 else ''} of {check.path}, the expected range in columns '{expect}_min'/'{expect}_max'"
    value = float(np.mean(ok))
    needed_fraction = min_fraction(check)
    detail = (f"{int(ok.sum())} of {n} inputs ({_percent(value)}) gave the expected output; at least "
              f"{_percent(needed_fraction)} must" + (f"; wrong: {'; '.join(wrong)}" if wrong else ""))
    return HarnessResult(criterion_name(check), "cases", what, inputs.model, "as expected", value, needed_fraction,
                         False, checks.passes(value, needed_fraction, at_most=False), n, detail)


def _raw_columns(inputs: ModelInputs) -> list[str]:
    """The catalogue columns a row must have for its features to be computed: the measured
    features and whatever the derived features read that is not itself derived."""
    read: list[str] = []
    for name in inputs.derived:
        read.extend(sorted(_reads(inputs, name) - set(inputs.derived)))
    return list(dict.fromkeys(inputs.measured + read))


def _bound(table, column: str, default: float) -> np.ndarray:
    import pandas as pd

    if column not in table.columns:
        return np.full(len(table), default)
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isnan(values), default, values)


# ------------------------------------------------------------------------------ hybrid


def hybrid(inputs: ModelInputs, check: HarnessCheck, index: int) -> HarnessResult:
    dataset, plan = inputs.dataset, inputs.plan
    classes = list(dataset.classes or [])
    first, second = (classes.index(c) for c in check.combine)
    expected = classes.index(check.expect)
    development = np.asarray(plan.development)
    rng = np.random.default_rng(inputs.seed)
    a, b = checks.pair_rows(development[dataset.y[development] == first],
                            development[dataset.y[development] == second], check.pairs, rng)
    columns = list(check.features) if check.features else inputs.measured
    _check_features(inputs, columns, inputs.loaded.where("harness", index, "features"))
    how = {"magnitude": "magnitudes as summed fluxes", "flux": "fluxes summed", "mean": "averaged"}[check.fluxes]
    what = (f"{len(a)} random pairs of development objects ({check.combine[0]} + {check.combine[1]}) combined: "
            f"{', '.join(columns)} {how}, other features averaged" + _follows(inputs, set(columns))
            + f"; expected class: {check.expect}")
    needed_fraction = min_fraction(check)
    if len(a) == 0:
        return HarnessResult(criterion_name(check), "hybrid", what, inputs.model, "as expected", None,
                             needed_fraction, False, None, 0,
                             f"the development set has no objects of {' or '.join(check.combine)} to combine")
    recompute = _recompute(inputs, set(columns) | (set(inputs.names) - set(inputs.derived)), a, index, pairs=(a, b))
    X = checks.combine_pairs(dataset.X, a, b, check.fluxes, _indices(inputs, columns), recompute)
    got = checks.predicted_class(inputs.predict(X))
    ok = got == expected
    value = float(np.mean(ok))
    counts = np.bincount(got, minlength=len(classes))
    shares = ", ".join(f"{classes[k]} {counts[k]}" for k in np.argsort(-counts) if counts[k])
    detail = (f"{int(ok.sum())} of {len(a)} combined pairs ({_percent(value)}) are predicted {check.expect}; at least "
              f"{_percent(needed_fraction)} must (predicted: {shares})")
    return HarnessResult(criterion_name(check), "hybrid", what, inputs.model, "as expected", value, needed_fraction,
                         False, checks.passes(value, needed_fraction, at_most=False), len(a), detail)
