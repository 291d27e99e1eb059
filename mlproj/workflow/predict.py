"""Apply a run's selected model to a new catalogue, with uncertainties (`mlproj predict`).

The new catalogue goes through exactly what the training catalogue went through (sentinels,
non-detection bounds, derived features); the output keeps every input column (identifiers,
positions) and adds the predictions: class probabilities for classification (calibrated if the
project asked for it), and for regression the mean with the global 1σ of the out-of-fold
residuals (or the project's σ(x)) and its 68.27% (±1σ) and 95% (±1.96σ) intervals; with
`uncertainty: {method: conformal}` the intervals are MAPIE's conformal ones and σ their 95%
half-width / 1.96.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlproj.data.dataset import feature_matrix, prepare_table, read_table
from mlproj.errors import DataError, RunError, storage_error
from mlproj.execute.tasks import spread_path
from mlproj.project.loading import load_project
from mlproj.science.augmentation import input_draws
from mlproj.science.sigma import CALIBRATED_IN_FOLD, Z_95, conformal_half_widths, spread_of
from mlproj.store import rundir
from mlproj.store.files import atomic_write

WRITERS = {".csv", ".parquet", ".fits"}
# models/<name>.json as the run wrote it (see runner._store_models); checked where it is read.
MODEL_INFO_SHAPE = {"model": str, "task": frozenset({"classification", "regression"}), "features": [str],
                    "classes?": (list, type(None)),
                    "cases": [{"name": str, "positives": [int], "operating_point?": (dict, type(None))}],
                    "sigma_global?": (int, float, type(None)), "sigma_factor?": (int, float),
                    "sigma_method?": str, "sha256?": str, "spread_sha256?": str, "support?": {"low": [(int, float, type(None))], "high": [(int, float, type(None))]}}
# Above this share of extrapolated objects `mlproj predict` warns (paper §5.5: a model outside its training support).
EXTRAPOLATED_WARNING = 0.05


@dataclass
class Prediction:
    model: str
    rows: int
    columns: list[str]
    out: Path
    # Objects outside the labelled development set's range on some feature (None: an older run kept no range)
    extrapolated: int | None = None
    outside: dict[str, int] | None = None  # feature -> objects outside its labelled range

    def applicability(self) -> str:
        """The summary of extrapolated objects (never silence: paper §5.5)."""
        if self.extrapolated is None:
            return "no applicability flags: the run kept no training range (run `mlproj run` again to get them)"
        share = self.extrapolated / max(self.rows, 1)
        text = f"{self.extrapolated} ({share:.0%}) are outside the training support (extrapolated=1)"
        by = sorted(((n, k) for n, k in (self.outside or {}).items() if k), key=lambda item: -item[1])
        if by:
            text += ": " + ", ".join(f"{n} beyond the labelled range for {k}" for n, k in by[:4])
        return text

    @property
    def warning(self) -> str | None:
        if self.extrapolated is None or self.extrapolated <= EXTRAPOLATED_WARNING * self.rows:
            return None
        return (f"{self.extrapolated} of {self.rows} objects ({self.extrapolated / max(self.rows, 1):.0%}) lie outside "
                "the range of the labelled objects the model was trained on: its predictions there are "
                "extrapolations, their accuracy unmeasured (paper §5.5; see the run's covariate shift section)")


def predict(run_dir: Path, data: Path, out: Path, *, model: str | None = None, draws: int = 0,
            seed: int = 0, columns: dict[str, str] | None = None) -> Prediction:
    """`columns`: the new catalogue's column names -> the project's (`--columns`, `--map`)."""
    if out.suffix.lower() not in WRITERS:
        raise DataError(f"cannot write predictions to '{out.name}'", hint="use a .csv, .parquet or .fits file name")
    try:
        is_folder = out.is_dir()
    except OSError as exc:  # a name too long for the file system, a folder that cannot be read
        raise storage_error(exc, "write", out) or exc from None
    if is_folder:
        raise DataError(f"--out {out} is a folder", hint="name a file to write the predictions to, such as "
                        f"{out / 'predictions.csv'}")
    info_path = _model_info(run_dir, model)
    info = rundir.read_json(info_path, MODEL_INFO_SHAPE)
    from mlproj.plan.estimators import model_types
    from mlproj.store.model_files import load_model

    env = rundir.read_json(run_dir / "environment.json")
    loaded = load_project(Path(env["config"]["path"]))
    # The project's allow_imports says which third-party classes its model files may hold.
    types = model_types(loaded.project.allow_imports)
    # Runs before the digest was recorded have none: their files get the type checks only.
    estimator = load_model(info_path.with_suffix(".skops"), types, sha256=info.get("sha256"))
    _check_paths(data, out, Path(env["data"]["path"]))
    table = read_table(data, where=str(data))
    original = list(table.columns)
    from mlproj.data.catalogue import renamed

    prepared = renamed(table, columns or {}, data)  # the output keeps the catalogue's own names
    _, _, derived = prepare_table(prepared, loaded)
    X = feature_matrix(prepared, info["features"], loaded, derived)
    inputs = _input_draws(X, prepared, loaded, info["features"], draws, seed)
    result = table.copy()
    extrapolated, outside = _applicability(result, X, info, run_dir, types)
    if info["task"] == "classification":
        # Averaging over draws of the inputs carries the measurement errors into the probabilities.
        proba = np.mean([estimator.predict_proba(x) for x in inputs], axis=0)
        for j, name in enumerate(info["classes"]):
            result[f"p_{name}"] = proba[:, j]
        for case in info["cases"]:
            if len(case["positives"]) > 1:
                result[f"p_{case['name']}"] = proba[:, case["positives"]].sum(axis=1)
        result["predicted_class"] = np.asarray(info["classes"])[np.argmax(proba, axis=1)]
        for case in info["cases"]:
            point = case.get("operating_point")
            if point:  # the selection whose rates the run validated, not the most probable class
                result[f"selected_{case['name']}"] = proba[:, case["positives"]].sum(axis=1) >= point["threshold"]
    else:
        per_draw = np.array([estimator.predict(x) for x in inputs])
        mu = per_draw.mean(axis=0)
        sigma = np.full(len(mu), info.get("sigma_global", np.nan))
        spread_file = spread_path(info_path.with_suffix(".skops"))
        half = None  # conformal half-widths by nominal coverage name
        if "sigma_factor" in info and spread_file.exists():
            fitted = load_model(spread_file, types, sha256=info.get("spread_sha256"))
            if info.get("sigma_method") in CALIBRATED_IN_FOLD:
                # Calibrated inside the fit by MAPIE: the run's rescaling factor does not apply.
                half = conformal_half_widths(fitted, X)
                sigma = spread_of(fitted, X)
            else:
                sigma = spread_of(fitted, X) * info["sigma_factor"]
        if len(inputs) > 1:
            # Input errors add to the model's σ in quadrature (paper §5.1: propagate uncertainties).
            result["sigma_inputs"] = per_draw.std(axis=0)
            model_sigma = sigma
            sigma = np.sqrt(sigma ** 2 + per_draw.var(axis=0))
            if half is not None:  # the same quadrature, each interval keeping its width in σ
                half = {k: h / model_sigma * sigma for k, h in half.items()}
        if half is None:
            # One definition of each nominal coverage (DESIGN §6): 68.27% = ±1σ, 95% = ±1.96σ.
            half = {"coverage_68": sigma, "coverage_95": Z_95 * sigma}
        result["prediction"] = mu
        result["sigma"] = sigma
        result["low_68"] = mu - half["coverage_68"]
        result["high_68"] = mu + half["coverage_68"]
        result["low_95"] = mu - half["coverage_95"]
        result["high_95"] = mu + half["coverage_95"]
    rundir.make_folder(out.parent)
    with atomic_write(out, "wb") as handle:  # a full disk or a read-only folder: a StorageError
        if out.suffix.lower() == ".parquet":
            result.to_parquet(handle, index=False)
        elif out.suffix.lower() == ".fits":
            from mlproj.data.catalogue import write_fits

            write_fits(result, handle)
        else:
            handle.write(result.to_csv(index=False).encode("utf-8"))
    return Prediction(info["model"], len(result), [c for c in result.columns if c not in original], out,
                      extrapolated, outside)


DOMAIN_MODEL = "domain.skops"  # the run's domain classifier (labelled vs data.application), when it had one


def _applicability(result, X: np.ndarray, info: dict, run_dir: Path, types) -> tuple[int | None, dict | None]:
    """`extrapolated` (1: some feature outside the labelled development set's min–max range) and
    `domain_score` (P(looks like the run's application sample), from the run's domain classifier;
    without one, the fraction of the object's features outside the labelled range)."""
    from mlproj.science.shift import outside_support

    support = info.get("support")
    if not support or len(support["low"]) != X.shape[1] or len(support["high"]) != X.shape[1]:
        return None, None
    low = np.array([np.nan if v is None else v for v in support["low"]], dtype=float)
    high = np.array([np.nan if v is None else v for v in support["high"]], dtype=float)
    beyond = outside_support(X, low, high)
    result["extrapolated"] = beyond.any(axis=1).astype(int)
    domain = run_dir / "models" / DOMAIN_MODEL
    if domain.exists():
        from mlproj.store.model_files import load_model

        result["domain_score"] = load_model(domain, types).predict_proba(X)[:, 1]
    else:
        result["domain_score"] = beyond.mean(axis=1)
    return int(beyond.any(axis=1).sum()), {n: int(k) for n, k in zip(info["features"], beyond.sum(axis=0))}


def _check_paths(data: Path, out: Path, catalogue: Path) -> None:
    """--data must exist (relative to where the command runs, unlike data.path), and --out must
    not overwrite it or the project's catalogue: p_* columns there would become features."""
    if not data.exists():
        raise DataError(f"--data {data}: no such file",
                        hint=f"--data is relative to the folder you run mlproj in ({Path.cwd()}), "
                             "not to the project file")
    for protected, what in ((data, "the catalogue given with --data"), (catalogue, "the project's catalogue")):
        if out.resolve() == protected.resolve():
            raise DataError(f"--out {out} is {what}: the predictions would overwrite it",
                            hint="write the predictions to another file")


def _input_draws(X: np.ndarray, table, loaded, names: list[str], draws: int, seed: int) -> list[np.ndarray]:
    """The inputs, or `draws` copies scattered by their Gaussian measurement errors, every
    derived feature recomputed from each copy's drawn values (a colour follows its magnitudes)."""
    if draws <= 0:
        return [X]
    from mlproj.data.dataset import derived_features, error_matrix

    errors = error_matrix(table, loaded, names)
    if errors is None:
        raise DataError("--draws needs measurement errors, but the project has no data.errors",
                        hint="add data.errors: {feature: error_column} to the project, or omit --draws")
    return input_draws(X, errors, draws, seed, recompute=derived_features(table, loaded, names, errors))


def _model_info(run_dir: Path, model: str | None) -> Path:
    folder = run_dir / "models"
    available = sorted(p for p in folder.glob("*.json")) if folder.is_dir() else []
    if not available:
        raise RunError(f"run {run_dir.name} has no saved model", hint="run `mlproj run` again (mlproj 0.1 saves "
                       "the selected model of every run)")
    if model is None:
        verdict = rundir.read_json(run_dir / "verdict.json")
        model = verdict.get("selected_model")
    path = folder / f"{model}.json"
    if not path.exists():
        names = ", ".join(p.stem for p in available)
        raise RunError(f"run {run_dir.name} has no saved model '{model}'", hint=f"saved models: {names}")
    return path
