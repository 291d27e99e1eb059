"""Tests of mlproj.project (schema, loading, rules): the project file, its validation and its messages."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mlproj.errors import ConfigError
from mlproj.project.loading import LoadedProject, config_hash, load_project, parse_project
from mlproj.project.schema import MetricSpec, Project, json_schema
from tests.conftest import within

PATH = Path("proj/mlproj.yaml")

CLASSIFICATION = """\
name: galaxy-purity
objective:
  statement: Select galaxies at 1% contamination.
  task: classification
data:
  path: catalog.csv
  label: class
classes:
  galaxy: "class == 'GALAXY'"
  star: "class == 'STAR'"
positive: galaxy
metric:
  primary: {name: tpr_at_fpr, fpr: 0.01}
  secondary: [roc_auc, brier]
finish_line:
  threshold: 0.9
  margin: 0.01
"""

REGRESSION = """\
name: photo-z
objective:
  statement: Photometric redshifts with small scatter.
  task: regression
data:
  path: catalog.csv
  label: z
metric:
  primary: sigma_nmad
finish_line:
  threshold: 0.05
"""


def parse(text: str) -> LoadedProject:
    return parse_project(text, PATH)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text)
    rendered = info.value.render()
    assert str(PATH.name) in rendered  # every message names the file
    return rendered


def line_of(text: str, needle: str) -> int:
    """1-based line number of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# --------------------------------------------------------------------------- valid projects

def test_minimal_classification_project_and_defaults():
    loaded = parse(CLASSIFICATION)
    project = loaded.project
    assert isinstance(loaded, LoadedProject)
    assert project.objective.task == "classification"
    assert project.classes == {"galaxy": "class == 'GALAXY'", "star": "class == 'STAR'"}
    assert project.positive == "galaxy"
    assert project.validation.folds == 5
    assert project.validation.repeats == 3
    assert project.validation.test_size == pytest.approx(0.2)
    assert project.validation.seed == 0
    assert project.baselines == ["dummy", "standard"]
    assert project.candidates == []
    assert project.finish_line.threshold == pytest.approx(0.9)
    assert project.finish_line.margin == pytest.approx(0.01)
    assert loaded.path == PATH.resolve()
    assert loaded.root == PATH.resolve().parent
    assert loaded.resolve("catalog.csv") == (PATH.resolve().parent / "catalog.csv")


def test_minimal_regression_project():
    project = parse(REGRESSION).project
    assert project.objective.task == "regression"
    assert project.classes is None and project.positive is None
    assert project.metric.primary.name == "sigma_nmad"
    assert project.finish_line.margin == 0.0
    assert project.validation.folds == 5 and project.baselines == ["dummy", "standard"]


def test_metric_spec_accepts_name_and_name_with_params():
    metric = parse(CLASSIFICATION).project.metric
    assert metric.primary == MetricSpec(name="tpr_at_fpr", params={"fpr": 0.01})
    assert metric.primary.label() == "tpr_at_fpr(fpr=0.01)"
    assert [m.name for m in metric.secondary] == ["roc_auc", "brier"]
    assert all(m.params == {} for m in metric.secondary)
    assert MetricSpec.model_validate("roc_auc") == MetricSpec(name="roc_auc")
    assert MetricSpec.model_validate({"name": "tpr_at_fpr", "fpr": 0.01}).params == {"fpr": 0.01}


def test_load_project_reads_file(tmp_path):
    path = tmp_path / "mlproj.yaml"
    path.write_text(CLASSIFICATION, encoding="utf-8")
    loaded = load_project(path)
    assert loaded.project == parse(CLASSIFICATION).project
    assert loaded.path == path.resolve()


def test_load_project_missing_file_and_folder_and_non_utf8(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_project(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="folder"):
        load_project(tmp_path)
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(CLASSIFICATION.replace("galaxy-purity", "gal\xe9").encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_project(bad)


def test_where_points_at_field_line():
    loaded = parse(CLASSIFICATION)
    assert loaded.where("finish_line", "margin") == f"{PATH.resolve()}:{line_of(CLASSIFICATION, 'margin')} (finish_line.margin)"
    assert loaded.where("metric", "secondary", 1).endswith("(metric.secondary[1])")


# --------------------------------------------------------------------------- schema errors

def test_unknown_key_with_did_you_mean():
    text = CLASSIFICATION.replace("margin:", "margn:")
    rendered = error_of(text)
    assert f"{PATH}:{line_of(text, 'margn')}" in rendered
    assert "unknown key 'margn'" in rendered
    assert "did you mean 'margin'" in rendered


def test_unknown_top_level_key_lists_allowed():
    text = CLASSIFICATION + "candidatez: []\n"
    rendered = error_of(text)
    assert "unknown key 'candidatez'" in rendered and "did you mean 'candidates'" in rendered
    assert f":{line_of(text, 'candidatez')}" in rendered


def test_wrong_type():
    text = CLASSIFICATION.replace("threshold: 0.9", "threshold: high")
    rendered = error_of(text)
    assert f"{PATH}:{line_of(text, 'threshold')}" in rendered
    assert "finish_line.threshold" in rendered and "'high'" in rendered


def test_missing_required_field():
    text = CLASSIFICATION.replace("  label: class\n", "")
    rendered = error_of(text)
    assert "required field 'data.label' is missing" in rendered
    assert f"{PATH}:{line_of(text, 'data:')}" in rendered


def test_out_of_range_value():
    text = CLASSIFICATION + "validation: {folds: 1}\n"
    rendered = error_of(text)
    assert "validation.folds" in rendered and f":{line_of(text, 'validation')}" in rendered


def test_yaml_syntax_error_line_number():
    text = CLASSIFICATION.replace("  task: classification", "  task: [classification")
    rendered = error_of(text)
    assert "YAML syntax error" in rendered
    # the parser notices the problem on the line after the unclosed bracket at the latest
    lines = {line_of(text, "[classification"), line_of(text, "[classification") + 1}
    assert any(f"{PATH}:{n}:" in rendered for n in lines)


def test_yaml_syntax_error_reports_its_line():
    text = "name: x\nobjective:\n  statement: a\n   task: b\n"
    rendered = error_of(text)
    assert f"{PATH}:4:" in rendered


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n"])
def test_empty_file(text):
    assert "empty" in error_of(text)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_mapping(text):
    assert "must be a mapping" in error_of(text)


def test_duplicate_key():
    text = CLASSIFICATION.replace("  margin: 0.01", "  margin: 0.01\n  margin: 0.02")
    rendered = error_of(text)
    assert "appears twice" in rendered and "'margin'" in rendered
    assert f"{PATH}:{line_of(text, 'margin: 0.02')}" in rendered


def test_python_tag_on_scalar_is_rejected():
    text = CLASSIFICATION.replace("name: galaxy-purity", "name: !!python/object/apply:os.system echo")
    rendered = error_of(text)
    assert "tag" in rendered and f"{PATH}:1" in rendered


@pytest.mark.parametrize("replacement", [
    "name: !!python/object/apply:os.system ['echo hi']",
    "name: !!python/object/new:str [x]",
    "name: !!python/object:mlproj.project.schema.Project {}",
])
def test_python_tag_on_collection_is_rejected_as_tag(replacement):
    rendered = error_of(CLASSIFICATION.replace("name: galaxy-purity", replacement))
    assert "tag" in rendered and f"{PATH}:1" in rendered


def test_python_tag_on_list_field_is_rejected():
    text = CLASSIFICATION.replace("secondary: [roc_auc, brier]",
                                  "secondary: !!python/object/apply:os.system [roc_auc]")
    rendered = error_of(text)
    assert "tag" in rendered and f":{line_of(text, 'secondary')}" in rendered


@pytest.mark.parametrize("replacement", ["name: 2020-01-01", "name: !!binary aGVsbG8=", "name: !custom x"])
def test_non_plain_scalar_tags_rejected(replacement):
    assert "tag" in error_of(CLASSIFICATION.replace("name: galaxy-purity", replacement))


def test_python_tag_never_executes(tmp_path):
    marker = tmp_path / "pwned"
    text = CLASSIFICATION.replace("name: galaxy-purity",
                                  f"name: !!python/object/apply:os.system ['touch {marker}']")
    with pytest.raises(ConfigError):
        parse(text)
    assert not marker.exists()


def test_alias_bomb_is_rejected():
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
        prev = name
    rendered = error_of(text)
    assert "too large" in rendered


def test_merge_key_is_rejected():
    text = "base: &b {threshold: 0.9}\n" + CLASSIFICATION.replace("finish_line:\n", "finish_line:\n  <<: *b\n")
    assert "merge" in error_of(text)


def test_deep_nesting_is_config_error():
    # must be a ConfigError, not a RecursionError
    assert "cannot be read as YAML" in error_of("[" * 2000)


# --------------------------------------------------------------------------- consistency errors

def test_classification_without_classes():
    text = CLASSIFICATION.replace(
        "classes:\n  galaxy: \"class == 'GALAXY'\"\n  star: \"class == 'STAR'\"\npositive: galaxy\n", "")
    rendered = error_of(text)
    assert "needs 'classes'" in rendered


def test_classification_with_one_class():
    text = CLASSIFICATION.replace("  star: \"class == 'STAR'\"\n", "")
    assert "at least two" in error_of(text)


def test_classification_without_positive():
    assert "'positive' is missing" in error_of(CLASSIFICATION.replace("positive: galaxy\n", ""))


def test_positive_not_in_classes_did_you_mean():
    text = CLASSIFICATION.replace("positive: galaxy", "positive: galaxi")
    rendered = error_of(text)
    assert "'galaxi' is not one of the classes" in rendered
    assert "did you mean 'galaxy'" in rendered
    assert f":{line_of(text, 'positive')} (positive)" in rendered


def test_regression_with_classes():
    text = REGRESSION + "classes: {a: \"z > 1\", b: \"z <= 1\"}\n"
    rendered = error_of(text)
    assert "classification projects only" in rendered
    assert f":{line_of(text, 'classes')} (classes)" in rendered


def test_regression_with_positive():
    assert "classification projects only" in error_of(REGRESSION + "positive: a\n")


def test_duplicate_candidate_names():
    text = CLASSIFICATION + (
        "candidates:\n"
        "  - {name: hgb, estimator: HistGradientBoostingClassifier}\n"
        "  - {name: hgb, estimator: RandomForestClassifier}\n")
    rendered = error_of(text)
    assert "'hgb' is already used" in rendered
    assert f":{line_of(text, 'RandomForestClassifier')} (candidates[1].name)" in rendered


def test_candidate_named_like_a_baseline():
    text = CLASSIFICATION + "candidates:\n  - {name: logistic, estimator: LogisticRegression}\n"
    assert "by a baseline" in error_of(text)


def test_baseline_names_are_free_when_those_baselines_are_not_run():
    from mlproj.plan.estimators import model_specs

    text = CLASSIFICATION + ("baselines: [dummy]\ncandidates:\n  - {name: logistic, estimator: LogisticRegression}\n"
                             "  - {name: random_forest, estimator: RandomForestClassifier}\n")
    project = parse_project(text, Path("mlproj.yaml")).project
    assert [s.name for s in model_specs(project)] == ["dummy", "logistic", "random_forest"]
    assert "by a baseline" in error_of(text.replace("baselines: [dummy]", "baselines: [standard]"))
    assert "by a baseline" in error_of(text.replace("name: logistic", "name: dummy"))


def test_nothing_to_run():
    assert "nothing to run" in error_of(CLASSIFICATION + "baselines: []\n")


def test_unknown_metric_did_you_mean():
    text = CLASSIFICATION.replace("secondary: [roc_auc, brier]", "secondary: [roc_auk]")
    rendered = error_of(text)
    assert "unknown metric 'roc_auk'" in rendered and "did you mean 'roc_auc'" in rendered.lower()
    assert f":{line_of(text, 'roc_auk')} (metric.secondary[0])" in rendered


def test_regression_metric_in_classification_project():
    text = CLASSIFICATION.replace("{name: tpr_at_fpr, fpr: 0.01}", "rmse")
    rendered = error_of(text)
    assert "'rmse' is a regression metric" in rendered
    assert "(metric.primary)" in rendered


def test_classification_metric_in_regression_project():
    assert "classification metric" in error_of(REGRESSION.replace("primary: sigma_nmad", "primary: roc_auc"))


@pytest.mark.parametrize("params, needle", [
    ("fpr: 2", "strictly between 0 and 1"),
    ("fpr: 0", "strictly between 0 and 1"),
    ("fpr: true", "must be a number"),
    ("fpr: .nan", "must be a number"),
    ("fpr: '0.01'", "must be a number"),
    ("fnr: 0.1", "unknown parameter 'fnr'"),
])
def test_bad_metric_param(params, needle):
    text = CLASSIFICATION.replace("fpr: 0.01", params)
    rendered = error_of(text)
    assert needle in rendered
    assert f":{line_of(text, params)} (metric.primary)" in rendered


def test_huge_integer_metric_param_is_config_error():
    error_of(CLASSIFICATION.replace("fpr: 0.01", "fpr: 1" + "0" * 400))


@pytest.mark.parametrize("old, new", [
    ("threshold: 0.9", "threshold: .nan"),
    ("threshold: 0.9", "threshold: .inf"),
    ("margin: 0.01", "margin: .inf"),
])
def test_non_finite_finish_line_is_config_error(old, new):
    error_of(CLASSIFICATION.replace(old, new))


def test_a_finish_line_outside_the_values_of_its_metric_is_config_error():
    rendered = error_of(CLASSIFICATION.replace("threshold: 0.9", "threshold: 90"))
    assert "finish_line.threshold" in rendered and "from 0 to 1" in rendered and "0.9 for 90%" in rendered
    below = error_of(CLASSIFICATION.replace("threshold: 0.9", "threshold: -0.1"))
    assert "every model would reach it" in below and "for -0.1%" not in below
    assert "of at least 0" in error_of(REGRESSION.replace("threshold: 0.05", "threshold: -0.01"))
    # a bound itself is a possible (if demanding) finish line
    assert parse(CLASSIFICATION.replace("threshold: 0.9", "threshold: 1.0")).project.finish_line.threshold == 1.0


def test_empty_or_duplicate_feature_list():
    assert "empty" in error_of(CLASSIFICATION.replace("  label: class\n", "  label: class\n  features: []\n"))
    assert "listed twice" in error_of(
        CLASSIFICATION.replace("  label: class\n", "  label: class\n  features: [u, g, u]\n"))


def test_n_jobs_zero():
    assert "n_jobs" in error_of(CLASSIFICATION + "execution: {n_jobs: 0}\n")


def test_feature_exclusion_form_accepted():
    text = CLASSIFICATION.replace("  label: class\n", "  label: class\n  features: {exclude: [ra, dec]}\n")
    assert parse(text).project.data.features.exclude == ["ra", "dec"]


# --------------------------------------------------------------------------- config hash

def test_config_hash_ignores_comments_and_formatting():
    reformatted = (
        "# a comment at the top\n"
        + CLASSIFICATION
        .replace("finish_line:\n  threshold: 0.9\n  margin: 0.01\n",
                 "finish_line: {threshold: 0.90, margin: 1.0e-2}   # same values\n")
        .replace("  primary: {name: tpr_at_fpr, fpr: 0.01}", "  primary:\n    name: tpr_at_fpr\n    fpr: 0.010")
        .replace("  label: class", "  label: 'class'   # quoted")
    )
    assert reformatted != CLASSIFICATION
    assert parse(reformatted).config_hash == parse(CLASSIFICATION).config_hash
    # defaults written out explicitly resolve to the same project
    explicit = CLASSIFICATION + "validation: {folds: 5, repeats: 3}\nbaselines: [dummy, standard]\n"
    assert parse(explicit).config_hash == parse(CLASSIFICATION).config_hash


def test_config_hash_changes_with_threshold():
    edited = CLASSIFICATION.replace("threshold: 0.9", "threshold: 0.91")
    assert parse(edited).config_hash != parse(CLASSIFICATION).config_hash
    assert config_hash(parse(CLASSIFICATION).project) == parse(CLASSIFICATION).config_hash
    assert len(parse(CLASSIFICATION).config_hash) == 64


# --------------------------------------------------------------------------- JSON schema

def _walk_sections(schema: dict):
    """(section name, property name, property schema) for every property of every section."""
    yield from (("Project", k, v) for k, v in schema["properties"].items())
    for section, definition in schema.get("$defs", {}).items():
        for key, value in definition.get("properties", {}).items():
            yield section, key, value


def test_json_schema_is_json_and_covers_sections():
    schema = json_schema()
    json.dumps(schema)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"Objective", "DataSection", "MetricSection", "MetricSpec", "FinishLine", "Validation",
            "CandidateSpec", "Execution"} <= set(schema["$defs"])
    assert schema["additionalProperties"] is False


def test_json_schema_every_section_property_has_description():
    schema = json_schema()
    missing = [f"{section}.{key}" for section, key, value in _walk_sections(schema)
               if section != "Project" and not value.get("description")]
    assert missing == []


def test_json_schema_top_level_fields_have_description():
    schema = json_schema()

    def described(value: dict) -> bool:
        if value.get("description"):
            return True
        ref = value.get("$ref") or next((v.get("$ref") for v in value.get("anyOf", []) if "$ref" in v), None)
        return bool(ref and schema["$defs"][ref.rsplit("/", 1)[-1]].get("description"))

    missing = [key for key, value in schema["properties"].items() if not described(value)]
    assert missing == []


# --------------------------------------------------------------------------- fuzzing

_ALPHABET = string.printable + "üé€\u00a0:-[]{}&*!|>%@`'\"#"
_KEYS = ["name", "task", "fpr", "path", "label", "features", "exclude", "params", "margin",
         "threshold", "classes", "positive", "folds", "primary", "estimator", "a", 1, True, None]
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**18, 10**18),
    st.floats(allow_nan=True, allow_infinity=True), st.text(_ALPHABET, max_size=12),
    st.sampled_from(["roc_auc", "tpr_at_fpr", "class == 'A'", "GALAXY", "", "~", "1e400", "-.inf"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(_KEYS), inner, max_size=3)),
    max_leaves=8,
)


@st.composite
def _mutated_text(draw):
    text = CLASSIFICATION + (
        "validation: {folds: 3, repeats: 2}\n"
        "candidates:\n  - name: hgb\n    estimator: HistGradientBoostingClassifier\n"
        "    params: {max_iter: 50}\n")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.integers(0, 5))
        pos = draw(st.integers(0, len(text)))
        lines = text.splitlines(keepends=True)
        if op == 0:  # delete characters
            text = text[:pos] + text[pos + draw(st.integers(1, 6)):]
        elif op == 1:  # insert characters
            text = text[:pos] + draw(st.text(_ALPHABET, min_size=1, max_size=6)) + text[pos:]
        elif op == 2:  # replace a character
            text = text[:pos] + draw(st.sampled_from(_ALPHABET)) + text[pos + 1:]
        elif op == 3:  # a random line
            lines.insert(draw(st.integers(0, len(lines))), draw(st.text(_ALPHABET, max_size=30)) + "\n")
            text = "".join(lines)
        elif op == 4:  # replace a line's value by a random nested structure, same key and indent
            j = draw(st.integers(0, len(lines) - 1))
            key = lines[j].split(":")[0].strip(" -") or "k"
            indent = len(lines[j]) - len(lines[j].lstrip())
            dumped = yaml.safe_dump({key: draw(_values)}, default_flow_style=draw(st.booleans()))
            lines[j] = "".join(" " * indent + line + "\n" for line in dumped.splitlines())
            text = "".join(lines)
        else:  # insert a random YAML document fragment
            dumped = yaml.safe_dump(draw(_values), default_flow_style=draw(st.booleans()))
            lines.insert(draw(st.integers(0, len(lines))), dumped)
            text = "".join(lines)
    return text


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_text())
def test_mutated_files_give_project_or_config_error(text):
    try:
        loaded = parse_project(text, PATH)
    except ConfigError as exc:
        event("ConfigError")
        assert exc.render()
    else:
        event("valid project")
        assert isinstance(loaded, LoadedProject)
        assert isinstance(loaded.project, Project)
        assert len(loaded.config_hash) == 64


# --------------------------------------------------------------------------- values the code cannot use (issue 20)

@pytest.mark.parametrize("validation, needle", [
    ("{repeats: 2, seed: 4294967295}", "seeds up to 4294967296"),  # seed + repeat overflows numpy's 2**32 - 1
    ("{repeats: 3, seed: 4294967294}", "a seed from 0 to 4294967293"),
    ("{seed: 1000000000000000000000000000000}", "less than or equal to 4294967295"),
    ("{seed: -1}", "greater than or equal to 0"),
])
def test_seeds_numpy_cannot_use_are_refused_at_load(validation, needle):
    text = CLASSIFICATION + f"validation: {validation}\n"
    rendered = error_of(text)
    assert needle in rendered
    assert f":{line_of(text, 'validation:')} (validation.seed)" in rendered


def test_the_largest_usable_seed_is_accepted():
    assert parse(CLASSIFICATION + "validation: {repeats: 2, seed: 4294967294}\n").project.validation.seed == 4294967294
    assert parse(CLASSIFICATION + "validation: {repeats: 1, seed: 4294967295}\n").project.validation.seed == 4294967295


@pytest.mark.parametrize("extra, field", [
    (("objective:\n  statement: s\n  task: classification\n  hypotheses: {sample_size: 10000000000000000000, "
      "fractions: [0.01, 0.001]}\n"), "objective.hypotheses.sample_size"),
    ("execution: {n_jobs: 1000000000000000000000000000000}\n", "execution.n_jobs"),
    ("execution: {n_jobs: -1000000000000000000000000000000}\n", "execution.n_jobs"),
    ("validation: {folds: 1000000}\n", "validation.folds"),
    ("validation: {repeats: 1000000}\n", "validation.repeats"),
    ("validation: {test_size: .nan}\n", "validation.test_size"),
    ("uncertainty: {crps: .inf}\n", "uncertainty.crps"),
])
def test_integers_and_floats_beyond_what_the_code_can_use_name_their_field(extra, field):
    base = CLASSIFICATION
    if extra.startswith("objective:"):
        base = base.replace("objective:\n  statement: Select galaxies at 1% contamination.\n  task: classification\n", "")
    rendered = error_of(base + extra)
    assert f"({field})" in rendered


def test_sample_size_up_to_ten_billion_is_accepted():
    text = CLASSIFICATION.replace("  task: classification\n", "  task: classification\n  hypotheses: "
                                  "{sample_size: 10000000000, fractions: [0.01, 0.001]}\n")
    assert parse(text).project.objective.hypotheses.sample_size == 10**10


@pytest.mark.parametrize("value, needle", [
    (".inf", "parameter 'learning_rate' is infinite"),
    ("-.inf", "parameter 'learning_rate' is infinite"),
    (".nan", "parameter 'learning_rate' is NaN"),
    ("1" + "0" * 30, "does not fit a 64-bit integer"),
])
def test_non_finite_or_huge_estimator_params_are_refused_at_load(value, needle):
    text = CLASSIFICATION + ("candidates:\n  - name: hgb\n    estimator: HistGradientBoostingClassifier\n"
                             f"    params: {{learning_rate: {value}}}\n")
    rendered = error_of(text)
    assert needle in rendered
    assert f":{line_of(text, 'params:')} (candidates[0].params)" in rendered


def test_non_finite_numbers_nested_in_estimator_params_are_found():
    text = CLASSIFICATION + ("candidates:\n  - name: mlp\n    estimator: MLPClassifier\n"
                             "    params: {hidden_layer_sizes: [10, .inf]}\n")
    assert "parameter 'hidden_layer_sizes[1]' is infinite" in error_of(text)


@pytest.mark.parametrize("data_extra, field", [
    ("  limits: {u: {flag: u_nodet, span: .inf}}\n", "data.limits.u.span"),
    ("  limits: {u: {sentinel: -99, limit: .inf}}\n", "data.limits.u.limit"),
    ("  sentinels: {u: [.nan]}\n", "data.sentinels.u[0]"),
])
def test_non_finite_numbers_in_sections_are_refused(data_extra, field):
    text = CLASSIFICATION.replace("  label: class\n", "  label: class\n" + data_extra)
    assert f"({field})" in error_of(text)


@pytest.mark.parametrize("section", ["candidates", "selections"])
def test_names_that_cannot_be_file_names_are_refused(section):
    long_name = "a" * 300
    if section == "candidates":
        text = CLASSIFICATION + f"candidates:\n  - {{name: {long_name}, estimator: LogisticRegression}}\n"
    else:
        text = CLASSIFICATION + (f"selections:\n  - name: {long_name}\n    positive: star\n"
                                 "    metric: {primary: roc_auc}\n    finish_line: {threshold: 0.8}\n")
    rendered = error_of(text)
    assert f"({section}[0].name)" in rendered and "at most 64 characters" in rendered
    assert len(rendered) < 600  # the 300 letters are not quoted in full


def test_names_of_64_characters_are_accepted():
    text = CLASSIFICATION + f"candidates:\n  - {{name: {'a' * 64}, estimator: LogisticRegression}}\n"
    assert parse(text).project.candidates[0].name == "a" * 64


# --------------------------------------------------------------------------- bytes that are not text, files that are not files

def test_nul_byte_in_the_file_names_its_line():
    text = CLASSIFICATION.replace("  label: class\n", "  label: cl\x00ass\n")
    rendered = error_of(text)
    assert f"{PATH}:{line_of(text, 'label:')}:" in rendered
    assert "NUL byte" in rendered and "ReaderError" not in rendered


def test_control_character_in_the_file_names_its_line():
    text = CLASSIFICATION.replace("name: galaxy-purity", "name: galaxy\x07purity")
    rendered = error_of(text)
    assert f"{PATH}:1:" in rendered and "U+0007" in rendered and "ReaderError" not in rendered


def test_nul_escape_in_a_path_names_the_field():
    text = CLASSIFICATION.replace("  path: catalog.csv", '  path: "cata\\0log.csv"')
    rendered = error_of(text)
    assert f":{line_of(text, 'path:')} (data.path)" in rendered and "NUL character" in rendered




def test_fifo_as_project_file_is_refused_without_opening_it(tmp_path):
    import os

    fifo = tmp_path / "mlproj.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"not a regular file but a named pipe \(FIFO\)"):
        within(20, load_project, fifo)


def test_device_as_project_file_is_refused(tmp_path):
    link = tmp_path / "mlproj.yaml"
    link.symlink_to("/dev/null")  # a device that is safe to read by mistake (/dev/zero: tests/e2e)
    with pytest.raises(ConfigError, match="not a regular file but a character device"):
        within(20, load_project, link)


def test_symlink_loop_and_too_long_name_as_project_file(tmp_path):
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="leads back to itself"):
        load_project(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="name is too long"):
        load_project(tmp_path / ("x" * 300 + ".yaml"))


def test_an_oversized_project_file_is_read_only_up_to_the_limit(tmp_path, monkeypatch):
    from mlproj.project import loading
    from mlproj.store import files

    path = tmp_path / "mlproj.yaml"
    path.write_text(CLASSIFICATION + "#" * 2000)
    monkeypatch.setattr(loading, "MAX_YAML_BYTES", 1000)
    read = []
    original = files.read_bounded
    monkeypatch.setattr(loading, "read_bounded", lambda p, limit: read.append(limit) or original(p, limit))
    with pytest.raises(ConfigError, match="larger than"):
        load_project(path)
    assert read == [1000]
    assert len(original(path, 1000)) == 1001


def test_allowed_strong_features_is_a_described_list_of_distinct_names():
    schema = json_schema()
    field = schema["$defs"]["DataSection"]["properties"]["allowed_strong_features"]
    assert field["type"] == "array" and "no_label_leak" in field["description"]
    text = CLASSIFICATION.replace("  label: class\n", "  label: class\n  allowed_strong_features: [u, u]\n")
    with pytest.raises(ConfigError, match="listed twice: u"):
        parse_project(text, PATH)
    typo = CLASSIFICATION.replace("  label: class\n", "  label: class\n  allowed_strong_feature: [u]\n")
    with pytest.raises(ConfigError, match="did you mean 'allowed_strong_features'"):
        parse_project(typo, PATH)
    assert parse_project(CLASSIFICATION, PATH).project.data.allowed_strong_features == []
