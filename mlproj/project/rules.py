"""Consistency rules of a project file: what one section cannot check alone.

Each rule is one function that says the rule in its docstring and raises a ConfigError pointing
at the field to change. `check_consistency` runs them in the order of `RULES`; the first broken
rule is the one reported, so the order is part of the messages a user sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlproj.errors import ConfigError
from mlproj.project.schema import MAX_SEED, Project, did_you_mean

if TYPE_CHECKING:  # loading runs these rules; the rules only read what it loaded
    from mlproj.project.loading import LoadedProject


def check_consistency(loaded: LoadedProject) -> None:
    """Rules that span sections; each error points at the field to change."""
    for rule in RULES:
        rule(loaded)


# --------------------------------------------------------------------------- classes

def classification_defines_classes(loaded: LoadedProject) -> None:
    """A classification project defines at least two operational classes."""
    project = loaded.project
    if project.objective.task == "classification" and (not project.classes or len(project.classes) < 2):
        raise ConfigError(
            "a classification project needs 'classes' with at least two operational definitions",
            where=loaded.where("classes"),
            hint="e.g. classes: {galaxy: \"class == 'GALAXY'\", other: \"class != 'GALAXY'\"}",
        )


def classification_names_positive(loaded: LoadedProject) -> None:
    """A classification project says which class the rates refer to (`positive`)."""
    project = loaded.project
    if project.objective.task == "classification" and project.positive is None:
        raise ConfigError(
            "'positive' is missing",
            where=str(loaded.path),
            hint=f"add `positive:` with the class that rates (completeness, purity, TPR) refer to: one of {', '.join(project.classes)}",
        )


def positives_are_some_classes(loaded: LoadedProject) -> None:
    """The positive class of the project and of every selection is a non-empty list of defined
    classes (or one class) that leaves at least one class to select against."""
    project = loaded.project
    if project.objective.task != "classification":
        return
    _check_positive(project.positive, project.classes, loaded, ("positive",))
    for i, selection in enumerate(project.selections):
        _check_positive(selection.positive, project.classes, loaded, ("selections", i, "positive"))


def _check_positive(positive, classes: dict, loaded: LoadedProject, loc: tuple) -> None:
    wanted = [positive] if isinstance(positive, str) else list(positive)
    if not wanted:
        raise ConfigError("the positive class list is empty", where=loaded.where(*loc))
    for name in wanted:
        if name not in classes:
            raise ConfigError(
                f"positive class '{name}' is not one of the classes "
                f"({', '.join(classes)}){did_you_mean(name, classes)}",
                where=loaded.where(*loc),
            )
    if len(set(wanted)) == len(classes):
        raise ConfigError("every class is positive, so there is nothing to select against",
                          where=loaded.where(*loc), hint="leave at least one class out")


def class_sections_only_for_classification(loaded: LoadedProject) -> None:
    """`classes`, `positive`, `selections` and `objective.hypotheses` belong to classification
    projects only."""
    project = loaded.project
    task = project.objective.task
    if task == "classification":
        return
    if project.classes is not None or project.positive is not None or project.selections or project.objective.hypotheses:
        key = ("classes" if project.classes is not None else "positive" if project.positive is not None
               else "selections" if project.selections else "objective.hypotheses")
        raise ConfigError(
            f"'{key}' applies to classification projects only; this one is a {task}",
            where=loaded.where(key),
            hint="remove it, or set objective.task: classification",
        )


# --------------------------------------------------------------------------- models and selections

def candidate_names_are_unique(loaded: LoadedProject) -> None:
    """Every candidate has its own name, and none takes the name of a baseline."""
    project = loaded.project
    names = [c.name for c in project.candidates]
    baselines = baseline_names(project)
    for i, name in enumerate(names):
        if name in names[:i] or name in baselines:
            raise ConfigError(
                f"candidate name '{name}' is already used" + (" by a baseline" if name not in names[:i] else ""),
                where=loaded.where("candidates", i, "name"),
                hint="give every candidate a unique name",
            )


def baseline_names(project: Project) -> set[str]:
    """Names the project's baselines take (see mlproj.plan.estimators.model_specs); candidates may not."""
    names = {"dummy"} & set(project.baselines)
    if "standard" in project.baselines:
        names |= {"logistic" if project.objective.task == "classification" else "linear", "random_forest"}
    if "historical" in project.baselines:
        names.add("historical")
    return names


def variant_names_are_unique(loaded: LoadedProject) -> None:
    """A variant is fitted as `<candidate>.<variant>`: that name is no other model's."""
    project = loaded.project
    taken = {c.name: ("candidate", i) for i, c in enumerate(project.candidates)}
    taken.update({name: ("baseline", None) for name in baseline_names(project)})
    for i, candidate in enumerate(project.candidates):
        for variant in candidate.variants:
            name = f"{candidate.name}.{variant}"
            if name in taken:
                kind, _ = taken[name]
                raise ConfigError(f"variant '{variant}' of candidate '{candidate.name}' would be fitted as '{name}', "
                                  f"the name of a {kind}", where=loaded.where("candidates", i, "variants", variant),
                                  hint="rename the variant or that model")
            taken[name] = ("variant", i)


def pipeline_steps_belong_to_pipelines(loaded: LoadedProject) -> None:
    """`steps` are the steps of `estimator: Pipeline`, and a Pipeline has them."""
    for i, candidate in enumerate(loaded.project.candidates):
        if candidate.estimator == "Pipeline" and not candidate.steps:
            raise ConfigError(f"candidate '{candidate.name}' is a Pipeline without steps",
                              where=loaded.where("candidates", i, "estimator"),
                              hint="list them: steps: [{estimator: StandardScaler}, {estimator: LogisticRegression}]")
        if candidate.steps is not None and candidate.estimator != "Pipeline":
            raise ConfigError(f"candidate '{candidate.name}' has steps, which only `estimator: Pipeline` takes",
                              where=loaded.where("candidates", i, "steps"),
                              hint="set estimator: Pipeline, or remove steps")


def imports_are_allowed(loaded: LoadedProject) -> None:
    """An import path (module.Class) as an estimator or a pipeline step is listed, exactly, in
    allow_imports (DESIGN §7): nothing else is ever imported."""
    project = loaded.project
    allowed = set(project.allow_imports)
    for i, candidate in enumerate(project.candidates):
        names = [(candidate.estimator, ("candidates", i, "estimator"))] + [
            (step.estimator, ("candidates", i, "steps", j, "estimator")) for j, step in enumerate(candidate.steps or ())]
        for name, loc in names:
            if "." in name and name not in allowed:
                short = name.rsplit(".", 1)[-1]
                raise ConfigError(
                    f"estimator '{name}' is an import path that the project's allow_imports does not list",
                    where=loaded.where(*loc),
                    hint=f"scikit-learn classes are named alone (estimator: {short})" if name.startswith("sklearn.")
                    else f"add it to the project file: `allow_imports: [{name}]` (only the exact import paths "
                         "listed there are ever imported)")


def search_settings_need_a_search(loaded: LoadedProject) -> None:
    """search_folds and search_iterations tune a `search`; without one they would do nothing."""
    for i, candidate in enumerate(loaded.project.candidates):
        for key in ("search_folds", "search_iterations"):
            if key in candidate.model_fields_set and not candidate.search:
                raise ConfigError(f"candidate '{candidate.name}' sets {key} but has no search",
                                  where=loaded.where("candidates", i, key),
                                  hint="add search: {parameter: [values to try]}, or remove it")


def something_to_run(loaded: LoadedProject) -> None:
    """The project lists at least one baseline or candidate."""
    project = loaded.project
    if not project.candidates and not project.baselines:
        raise ConfigError("there is nothing to run: list at least one baseline or candidate", where=loaded.where("baselines"))


def selection_names_are_unique(loaded: LoadedProject) -> None:
    """Every selection has its own name, different from that of the main selection (its positive
    classes joined by '+', or the label of a regression)."""
    project = loaded.project
    names = [s.name for s in project.selections]
    positive = project.positive
    main = positive if isinstance(positive, str) else "+".join(positive or []) or project.data.label
    for i, name in enumerate(names):
        if name in names[:i] or name == main:
            raise ConfigError(
                f"selection name '{name}' is used twice" if name in names[:i] else
                f"selection name '{name}' is the name of the main selection (positive: {main})",
                where=loaded.where("selections", i, "name"), hint="give every selection its own name")


def historical_baseline_is_complete(loaded: LoadedProject) -> None:
    """'historical' in baselines and a `historical:` section come together."""
    project = loaded.project
    wants_historical = "historical" in project.baselines
    if wants_historical != (project.historical is not None):
        raise ConfigError(
            "the historical baseline needs both 'historical' in baselines and a `historical:` section",
            where=loaded.where("historical" if project.historical is not None else "baselines"),
            hint="e.g. historical: {column: class_star, kind: score, direction: lower} and baselines: [dummy, standard, historical]",
        )


def historical_kind_fits_the_task(loaded: LoadedProject) -> None:
    """The historical method gives a value for regression, a score or a label for classification."""
    project = loaded.project
    task = project.objective.task
    if project.historical is not None:
        allowed = {"regression": {"value"}, "classification": {"score", "label"}}[task]
        if project.historical.kind not in allowed:
            raise ConfigError(f"historical kind '{project.historical.kind}' does not fit a {task} project",
                              where=loaded.where("historical", "kind"), hint=f"use {' or '.join(sorted(allowed))}")


# --------------------------------------------------------------------------- data and uncertainty

def augmentation_has_errors_to_draw_from(loaded: LoadedProject) -> None:
    """data.augment needs data.errors or data.limits: copies are drawn from them."""
    project = loaded.project
    if project.data.augment and not (project.data.errors or project.data.limits):
        raise ConfigError("data.augment draws copies from measurement errors and non-detection ranges, but "
                          "data.errors and data.limits are empty",
                          where=loaded.where("data", "augment"), hint="add data.errors: {feature: error_column}")


def uncertainty_method_fits_the_task(loaded: LoadedProject) -> None:
    """`calibrated` is for classification; residual, quantile, ensemble and conformal are for regression;
    global is for both."""
    project = loaded.project
    task = project.objective.task
    method = project.uncertainty.method
    if (method == "calibrated") != (task == "classification") and method != "global":
        raise ConfigError(
            f"uncertainty method '{method}' applies to {'classification' if method == 'calibrated' else 'regression'} "
            "projects",
            where=loaded.where("uncertainty", "method"),
            hint="classification: global (uncalibrated) or calibrated; regression: global, residual, quantile, ensemble, "
                 "conformal")


def uncertainty_criteria_only_for_regression(loaded: LoadedProject) -> None:
    """The coverage and CRPS criteria judge regression uncertainties, not class probabilities."""
    project = loaded.project
    if project.objective.task == "classification" and (project.uncertainty.coverage_68 or project.uncertainty.crps):
        raise ConfigError("coverage and CRPS criteria judge regression uncertainties",
                          where=loaded.where("uncertainty"), hint="use brier or log_loss as a metric instead")


def coverage_band_is_inside_zero_one(loaded: LoadedProject) -> None:
    """uncertainty.coverage_68 is a band [low, high] with 0 < low < high < 1."""
    band = loaded.project.uncertainty.coverage_68
    if band and not 0 < band[0] < band[1] < 1:
        raise ConfigError(f"uncertainty.coverage_68 must be a band [low, high] inside (0, 1), got {list(band)}",
                          where=loaded.where("uncertainty", "coverage_68"))


# --------------------------------------------------------------------------- validation

def seeds_fit_numpy(loaded: LoadedProject) -> None:
    """Every repeat's seed (seed + i) stays within numpy's 32-bit seeds."""
    validation = loaded.project.validation
    if validation.seed + validation.repeats - 1 > MAX_SEED:
        raise ConfigError(
            f"validation.seed {validation.seed} with {validation.repeats} repeats gives seeds up to "
            f"{validation.seed + validation.repeats - 1}, beyond numpy's largest seed 2^32 - 1 = {MAX_SEED}",
            where=loaded.where("validation", "seed"),
            hint=f"choose a seed from 0 to {MAX_SEED - validation.repeats + 1} (repeat i uses seed + i)")


def strategy_has_its_column(loaded: LoadedProject) -> None:
    """The group strategy needs data.groups, the time strategy data.order."""
    project = loaded.project
    strategy = project.validation.strategy
    needed = {"group": "groups", "time": "order"}.get(strategy)
    if needed and getattr(project.data, needed) is None:
        raise ConfigError(f"validation.strategy '{strategy}' needs data.{needed}",
                          where=loaded.where("validation", "strategy"),
                          hint=f"name the column with data.{needed}: ...")


def external_test_set_replaces_the_split(loaded: LoadedProject) -> None:
    """data.test_path holds the test set out: validation.test_size (a random split) would contradict
    it, and only the stratified strategy's folds are made over a given development set."""
    project = loaded.project
    if project.data.test_path is None:
        return
    if "test_size" in project.validation.model_fields_set:
        raise ConfigError("validation.test_size and data.test_path are both set",
                          where=loaded.where("validation", "test_size"),
                          hint="data.test_path is the held-out test set, so there is no random split to size: "
                               "remove validation.test_size (or data.test_path, for a random split)")
    if project.validation.strategy != "stratified":
        raise ConfigError(f"data.test_path works with validation.strategy: stratified, not "
                          f"'{project.validation.strategy}'", where=loaded.where("data", "test_path"),
                          hint="use the stratified strategy, or drop data.test_path to hold out whole groups or "
                               "the latest objects")



# --------------------------------------------------------------------------- metrics and finish lines

def metrics_exist_for_the_task(loaded: LoadedProject) -> None:
    """Every primary and secondary metric (of the project, then of each selection) is one of the
    task's metrics, with parameters it takes."""
    from mlproj.science import metrics  # the metric catalogue is cheap: no scikit-learn at import

    project = loaded.project
    task = project.objective.task
    metric_sections = [(("metric",), project.metric)] + [
        (("selections", i, "metric"), s.metric) for i, s in enumerate(project.selections)
    ]
    specs = [(loc + ("primary",), section.primary) for loc, section in metric_sections]
    specs += [(loc + ("secondary", i), m) for loc, section in metric_sections for i, m in enumerate(section.secondary)]
    for loc, spec in specs:
        try:
            metrics.metric_info(spec.name, task)
            metrics.validate_params(spec.name, spec.params, task)
        except ConfigError as exc:
            raise ConfigError(exc.message, where=loaded.where(*loc), hint=exc.hint) from None


def thresholds_are_values_the_metric_takes(loaded: LoadedProject) -> None:
    """Every finish-line threshold lies within the values its primary metric can take (a rate in
    [0, 1]); otherwise every model would reach it, or none could."""
    from mlproj.science import metrics

    project = loaded.project
    finish_lines = [(("finish_line", "threshold"), project.finish_line, project.metric.primary)] + [
        (("selections", i, "finish_line", "threshold"), s.finish_line, s.metric.primary)
        for i, s in enumerate(project.selections)
    ]
    for loc, finish, primary in finish_lines:
        low, high = metrics.BOUNDS[primary.name]
        if not low <= finish.threshold <= high:
            values = f"from {low:g} to {high:g}" if math.isfinite(low) and math.isfinite(high) else (
                f"of at least {low:g}" if math.isfinite(low) else f"of at most {high:g}")
            percent = (low, high) == (0.0, 1.0) and 1 < finish.threshold <= 100
            raise ConfigError(
                f"finish-line threshold {finish.threshold:g} is outside the values {primary.name} can take "
                f"({values}): every model would reach it, or none could",
                where=loaded.where(*loc),
                hint=f"write it as a fraction, e.g. {finish.threshold / 100:g} for {finish.threshold:g}%" if percent
                else f"choose a threshold {values}")


# --------------------------------------------------------------------------- test harness and interrogation

def harness_checks_are_complete(loaded: LoadedProject) -> None:
    """Each harness check has what its kind needs: invariance one perturbation ({noise: errors} with
    data.errors, {noise: σ > 0} or {permute: [features]}); cases a path; hybrid (classification
    only) two defined classes to combine and an expected class. Named features are features."""
    project = loaded.project
    classes = list(project.classes or {})
    listed = project.data.features if isinstance(project.data.features, list) else None
    known = None if listed is None else list(listed) + [d for d in project.data.derived if d not in listed]

    def features_known(names, loc) -> None:
        unknown = [] if known is None else [n for n in names if n not in known]
        if unknown:
            raise ConfigError(f"harness check names {unknown[0]!r}, which is not a feature"
                              f"{did_you_mean(unknown[0], known)}", where=loaded.where(*loc),
                              hint=f"the features are: {', '.join(known)}")

    for i, check in enumerate(project.harness):
        at = ("harness", i)
        if check.kind == "invariance":
            perturb = check.perturb
            if len(perturb) != 1 or next(iter(perturb)) not in ("noise", "permute"):
                raise ConfigError("an invariance check needs one perturbation: {noise: errors}, {noise: 0.05} or "
                                  "{permute: [columns]}", where=loaded.where(*at, "perturb"),
                                  hint="e.g. perturb: {permute: [psf_minus_model]}")
            if "permute" in perturb:
                columns = perturb["permute"]
                columns = [columns] if isinstance(columns, str) else columns
                if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
                    raise ConfigError("perturb.permute lists the features to shuffle across objects",
                                      where=loaded.where(*at, "perturb", "permute"), hint="e.g. permute: [r, g_r]")
                features_known(columns, (*at, "perturb", "permute"))
            else:
                noise = perturb["noise"]
                if noise == "errors":
                    if not project.data.errors:
                        raise ConfigError("perturb: {noise: errors} adds noise at the measurement errors, but "
                                          "data.errors is empty", where=loaded.where(*at, "perturb", "noise"),
                                          hint="add data.errors: {feature: error_column}, or give the noise's σ, "
                                               "e.g. {noise: 0.05}")
                elif isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 < noise < math.inf:
                    raise ConfigError(f"perturb.noise must be 'errors' or a positive σ, got {noise!r}",
                                      where=loaded.where(*at, "perturb", "noise"), hint="e.g. {noise: 0.05}")
            features_known(check.features or [], (*at, "features"))
        elif check.kind == "cases":
            if not check.path:
                raise ConfigError("a cases check needs 'path': the CSV of hand-crafted inputs and expected outputs",
                                  where=loaded.where(*at), hint="e.g. {kind: cases, path: harness/handmade.csv, "
                                                                "expect: expect}")
        else:
            if project.objective.task != "classification":
                raise ConfigError("a hybrid check combines objects of classes: it applies to classification "
                                  "projects only", where=loaded.where(*at, "kind"),
                                  hint="use invariance or cases checks for a regression")
            if not check.combine:
                raise ConfigError("a hybrid check needs 'combine': the two classes whose objects are combined",
                                  where=loaded.where(*at), hint=f"e.g. combine: [{classes[0]}, {classes[0]}]")
            for name in check.combine:
                if name not in classes:
                    raise ConfigError(f"class '{name}' is not one of the classes ({', '.join(classes)})"
                                      f"{did_you_mean(name, classes)}", where=loaded.where(*at, "combine"))
            if check.expect not in classes:
                raise ConfigError("a hybrid check needs 'expect': the class the combined objects must stay in"
                                  if check.expect is None else
                                  f"expected class '{check.expect}' is not one of the classes ({', '.join(classes)})"
                                  f"{did_you_mean(check.expect, classes)}", where=loaded.where(*at, "expect"))
            features_known(check.features or [], (*at, "features"))


def interrogation_names_features(loaded: LoadedProject) -> None:
    """The features interrogate: asks about (sensitivity, by, bins) are features of the project."""
    project = loaded.project
    asked = project.interrogate
    listed = project.data.features if isinstance(project.data.features, list) else None
    if asked is None or listed is None:
        return
    known = list(listed) + [d for d in project.data.derived if d not in listed]
    for field_name in ("sensitivity", "bins", "by"):
        value = getattr(asked, field_name)
        for name in [value] if isinstance(value, str) else value or []:
            if name not in known:
                raise ConfigError(f"interrogate.{field_name} names {name!r}, which is not a feature"
                                  f"{did_you_mean(name, known)}", where=loaded.where("interrogate", field_name),
                                  hint=f"the features are: {', '.join(known)}")


# The order in which the rules are checked (that of the sections in a project file).
def shift_needs_an_application_sample(loaded: LoadedProject) -> None:
    """`shift` compares the labelled catalogue with the application sample: it needs one."""
    if loaded.project.shift is not None and not loaded.project.data.application:
        raise ConfigError("shift needs an application sample, but data.application is not set",
                          where=loaded.where("shift"),
                          hint="add data.application: the catalogue the model will be applied to (the same "
                               "columns minus the label), or remove the shift section")


RULES: tuple[Callable[[LoadedProject], None], ...] = (
    classification_defines_classes,
    classification_names_positive,
    positives_are_some_classes,
    class_sections_only_for_classification,
    candidate_names_are_unique,
    variant_names_are_unique,
    pipeline_steps_belong_to_pipelines,
    imports_are_allowed,
    search_settings_need_a_search,
    something_to_run,
    selection_names_are_unique,
    historical_baseline_is_complete,
    historical_kind_fits_the_task,
    augmentation_has_errors_to_draw_from,
    uncertainty_method_fits_the_task,
    uncertainty_criteria_only_for_regression,
    coverage_band_is_inside_zero_one,
    seeds_fit_numpy,
    strategy_has_its_column,
    external_test_set_replaces_the_split,
    metrics_exist_for_the_task,
    thresholds_are_values_the_metric_takes,
    harness_checks_are_complete,
    interrogation_names_features,
    shift_needs_an_application_sample,
)
