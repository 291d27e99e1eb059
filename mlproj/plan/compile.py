"""Compile a project into a run plan: splits, tasks and their content keys.

Compilation is pure: the same project, labels and data fingerprint give the same plan, with no
I/O and no randomness beyond the explicit seeds. `mlproj plan` shows exactly what `mlproj run`
will do, and every task's key says whether its result can come from the cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from mlproj.plan.ablations import FeatureSet, ablated_models, resolve_feature_sets
from mlproj.plan.estimators import ModelSpec
from mlproj.plan.splits import FoldSplit, make_splits
from mlproj.project.schema import Project

CACHE_VERSION = 2  # 2: the ensemble σ became a predictive σ (its cached spreads were not)
FINAL_FOLD = -1  # the fold number of the one fit on the whole development set


@dataclass(frozen=True)
class Task:
    """One fit: a model on the training rows of a split, predicting its validation rows."""

    key: str
    model: str
    repeat: int
    fold: int
    seed: int
    feature_set: str = ""  # the ablation's feature set (plan.ablations); "": every feature

    @property
    def is_final(self) -> bool:
        return self.fold == FINAL_FOLD


@dataclass
class Plan:
    task_kind: str
    models: list[ModelSpec]
    feature_names: list[str]
    test: np.ndarray  # held-out rows, touched once for the selected model
    development: np.ndarray
    splits: list[FoldSplit]
    tasks: list[Task]  # cross-validation tasks, model-major
    final_tasks: dict[str, Task] = field(default_factory=dict)  # model → fit on development, scored on test
    folds: int = 5
    repeats: int = 1
    data_fingerprint: str = ""
    strategy: str = "stratified"
    note: str | None = None  # how the validation design was adapted (e.g. one repeat for time order)
    # n_val/n_train of the folds for the corrected SE (DESIGN §6); None: K-fold, 1/(k-1)
    val_train_ratio: float | None = None
    # Feature ablations (paper §6.1): their feature sets, and their cross-validation tasks on the
    # same splits and seeds as the full models (kept apart from `tasks`: no selection sees them).
    feature_sets: list[FeatureSet] = field(default_factory=list)
    ablation_tasks: list[Task] = field(default_factory=list)  # feature set-major, then model, split
    # The declared checks of the final model (`harness:`), by kind and name, for `mlproj plan`.
    harness: list[dict] = field(default_factory=list)

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.models if m.name == name)

    def feature_set(self, name: str) -> FeatureSet:
        return next(f for f in self.feature_sets if f.name == name)

    @property
    def ablated_models(self) -> list[str]:
        return list(dict.fromkeys(t.model for t in self.ablation_tasks))

    def split(self, repeat: int, fold: int) -> FoldSplit:
        return self.splits[repeat * self.folds + fold]

    def rows_for(self, task: Task) -> tuple[np.ndarray, np.ndarray]:
        if task.is_final:
            return self.development, self.test
        split = self.split(task.repeat, task.fold)
        return split.train, split.valid

    def to_dict(self) -> dict:
        """JSON-ready description (indices are summarised by their counts and hashes)."""
        return {
            "task": self.task_kind,
            "strategy": self.strategy,
            "note": self.note,
            "folds": self.folds,
            "repeats": self.repeats,
            "val_train_ratio": self.val_train_ratio,
            "n_development": int(len(self.development)),
            "n_test": int(len(self.test)),
            "features": self.feature_names,
            "data_fingerprint": self.data_fingerprint,
            "models": [
                {"name": m.name, "role": m.role, "estimator": m.estimator, "params": m.params,
                 "scale": m.scale, "simplicity": m.simplicity,
                 "fits": sum(1 for t in self.tasks if t.model == m.name)}
                for m in self.models
            ],
            "splits": [
                {"repeat": s.repeat, "fold": s.fold, "seed": s.seed, "n_train": int(len(s.train)),
                 "n_valid": int(len(s.valid)), "valid_hash": _hash_indices(s.valid)}
                for s in self.splits
            ],
            "tasks": [
                {"key": t.key, "model": t.model, "repeat": t.repeat, "fold": t.fold, "seed": t.seed}
                for t in self.tasks
            ],
            "total_fits": len(self.tasks),
            **self._kinds_dict(),
        }

    def _kinds_dict(self) -> dict:
        """The tasks by kind (DESIGN §4): cross-validation of every model, its variants,
        the ablations, the declared harness checks and the final fits."""
        fits = {}
        for task in self.tasks:
            fits[task.model] = fits.get(task.model, 0) + 1
        variants = [{"name": m.name, "parent": getattr(m, "parent", None), "fits": fits.get(m.name, 0)}
                    for m in self.models if getattr(m, "parent", None)]
        ablations = []
        for feature_set in self.feature_sets:
            mine = [t for t in self.ablation_tasks if t.feature_set == feature_set.name]
            ablations.append({**feature_set.to_dict(self.feature_names),
                              "models": list(dict.fromkeys(t.model for t in mine)), "fits": len(mine)})
        return {
            "kinds": {
                "cross_validation": {m.name: fits.get(m.name, 0) for m in self.models
                                     if not getattr(m, "parent", None)},
                "variants": variants,
                "ablations": ablations,
                "harness": list(self.harness),
                "final": [{"model": name, "key": task.key} for name, task in self.final_tasks.items()],
            },
            "ablation_tasks": [
                {"key": t.key, "model": t.model, "feature_set": t.feature_set, "repeat": t.repeat, "fold": t.fold,
                 "seed": t.seed}
                for t in self.ablation_tasks
            ],
            "total_ablation_fits": len(self.ablation_tasks),
        }


def compile_plan(project: Project, models: list[ModelSpec], labels: np.ndarray,
                 feature_names: list[str], data_fingerprint: str, library_version: str = "", *,
                 groups: np.ndarray | None = None, order: np.ndarray | None = None, where=None,
                 test_rows: np.ndarray | None = None) -> Plan:
    """Splits and tasks for every model; identical splits and seeds for every model (paired).

    `where(*loc)`: the location of a field in the project file, for errors in `ablations:`
    (LoadedProject.where); `test_rows`: the held-out rows when the project gives its test set
    (data.test_path)."""
    validation = project.validation
    splits = make_splits(strategy=validation.strategy, task=project.objective.task, labels=labels,
                         n_folds=validation.folds, repeats=validation.repeats, seed=validation.seed,
                         test_size=validation.test_size, groups=groups, order=order, test_rows=test_rows)
    base = {
        "version": CACHE_VERSION,
        "library": library_version,
        "data": data_fingerprint,
        "task": project.objective.task,
        "label": project.data.label,
        # A list, not a mapping: the order of the definitions sets the label indices.
        "classes": list(project.classes.items()) if project.classes else None,
        "features": feature_names,
        "derived": project.data.derived,
    }
    # Only when set, so that the keys of projects without them stay valid.
    for name in ("sentinels", "errors", "limits"):
        if getattr(project.data, name):
            base[name] = project.data.model_dump(mode="json")[name]
    tasks = []
    for model in models:
        for split in splits.folds:
            key = task_key(base, model, split.train, split.valid, split.seed)
            tasks.append(Task(key, model.name, split.repeat, split.fold, split.seed))
    final_tasks = {
        model.name: Task(task_key(base, model, splits.development, splits.test, validation.seed), model.name, 0,
                         FINAL_FOLD, validation.seed)
        for model in models
    }
    ablations = getattr(project, "ablations", None)
    feature_sets = resolve_feature_sets(ablations, list(feature_names), project.data.derived, where=where)
    ablation_tasks = []
    ablated = ablated_models(ablations, models, where=where) if feature_sets else []
    for feature_set in feature_sets:
        identity = feature_set.identity(list(feature_names))
        for model in (m for m in models if m.name in ablated):
            for split in splits.folds:
                key = task_key(base, model, split.train, split.valid, split.seed, feature_set=identity)
                ablation_tasks.append(Task(key, model.name, split.repeat, split.fold, split.seed, feature_set.name))
    return Plan(project.objective.task, models, list(feature_names), splits.test, splits.development,
                splits.folds, tasks, final_tasks, splits.n_folds, splits.n_repeats, data_fingerprint,
                strategy=splits.strategy, note=splits.note, val_train_ratio=splits.val_train_ratio,
                feature_sets=feature_sets, ablation_tasks=ablation_tasks, harness=_harness_checks(project))


def _harness_checks(project: Project) -> list[dict]:
    """The declared harness checks (paper §2.4), as `mlproj plan` lists them: run on the final model."""
    from mlproj.plan.harness import check_name

    checks = getattr(project, "harness", None) or []
    return [{"kind": check.kind, "name": check_name(check)} for check in checks]


def task_key(base: dict, model: ModelSpec, train: np.ndarray, valid: np.ndarray, seed: int, *,
             feature_set: dict | None = None) -> str:
    """Content hash of everything that determines a task's predictions (DVC-style cache key).

    `feature_set`: the columns an ablation keeps and replaces (FeatureSet.identity); only in the
    keys of ablation tasks, so that the full models' keys do not change when ablations are added."""
    payload = dict(base, model=model.identity(), train=_hash_indices(train), valid=_hash_indices(valid),
                   seed=seed)
    if feature_set is not None:
        payload["feature_set"] = feature_set
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _hash_indices(indices: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(indices, dtype=np.int64).tobytes()).hexdigest()[:16]
