"""Tests of mlproj.plan.ablations and of ablation tasks in the plan: feature sets, names, the
derived features that go with their columns, errors naming the field, and task keys that do not
change for the full models."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from mlproj.errors import ConfigError
from mlproj.plan.ablations import ablated_models, resolve_feature_sets
from mlproj.plan.compile import CACHE_VERSION, _hash_indices, compile_plan
from mlproj.plan.estimators import model_specs
from mlproj.project.loading import parse_project
from mlproj.project.schema import Ablations
from tests.conftest import minimal_project_text

FEATURES = ["u", "g", "r", "u_g", "g_r"]
DERIVED = {"u_g": "u - g", "g_r": "g - r"}


def sets(**section):
    return resolve_feature_sets(Ablations(**section), FEATURES, DERIVED)


def by_name(feature_sets):
    return {f.name: f for f in feature_sets}


def test_no_section_no_feature_sets():
    assert resolve_feature_sets(None, FEATURES, DERIVED) == []
    assert ablated_models(None, []) == []


def test_each_feature_drops_its_derived_features_with_it():
    found = by_name(sets(features="each"))
    assert list(found) == ["-u", "-g", "-r", "-u_g", "-g_r"]
    u = found["-u"]
    assert [FEATURES[j] for j in u.columns] == ["g", "r", "g_r"]  # u_g = u - g goes with u
    assert u.removed == ("u",) and u.dependent == ("u_g",)
    assert "u_g" in u.description and "derived" in u.description
    g = found["-g"]
    assert [FEATURES[j] for j in g.columns] == ["u", "r"] and g.dependent == ("u_g", "g_r")
    # A derived feature dropped alone takes nothing else with it.
    assert [FEATURES[j] for j in found["-u_g"].columns] == ["u", "g", "r", "g_r"]
    assert found["-u_g"].dependent == ()


def test_derived_of_derived_goes_too():
    derived = {"u_g": "u - g", "twice": "2 * u_g"}
    names = ["u", "g", "u_g", "twice"]
    [u] = resolve_feature_sets(Ablations(features=["u"]), names, derived)
    assert [names[j] for j in u.columns] == ["g"] and u.dependent == ("u_g", "twice")


def test_a_catalogue_column_that_feeds_derived_features_can_be_named():
    # Features are colours only; dropping the magnitude u removes the colour computed from it.
    names = ["u_g", "g_r"]
    [u] = resolve_feature_sets(Ablations(features=["u"]), names, DERIVED)
    assert [names[j] for j in u.columns] == ["g_r"] and u.dependent == ("u_g",)


def test_non_detection_indicator_goes_with_its_column_and_is_no_ablation_of_its_own():
    names = ["u", "g", "u_nondetection"]
    found = by_name(resolve_feature_sets(Ablations(features="each"), names, {}))
    assert list(found) == ["-u", "-g"]
    assert [names[j] for j in found["-u"].columns] == ["g"]


def test_groups_replace_keep_only_names_and_columns():
    found = by_name(sets(groups={"colours": ["u_g", "g_r"]}, replace={"colours": "mean", "r": "median"},
                         keep_only={"basic": ["u", "g"]}))
    assert list(found) == ["-colours", "colours=mean", "r=median", "only:basic"]
    assert [FEATURES[j] for j in found["-colours"].columns] == ["u", "g", "r"]
    colours = found["colours=mean"]
    assert colours.columns == tuple(range(5))  # the columns stay, their information goes
    assert colours.replaced == ((3, "mean"), (4, "mean"))
    # Replacing a raw column also replaces what is derived from it.
    assert found["r=median"].replaced == ((2, "median"), (4, "median"))
    assert [FEATURES[j] for j in found["only:basic"].columns] == ["u", "g"]
    assert found["only:basic"].removed == ("r", "u_g", "g_r")
    [listed] = sets(keep_only=["u", "g"])
    assert listed.name == "only:u+g"


def test_identity_names_the_columns():
    [colours] = sets(replace={"u_g": "mean"})
    assert colours.identity(FEATURES) == {"kept": FEATURES, "replaced": {"u_g": "mean"}}


def test_unknown_group_member_is_an_error_naming_the_field_with_a_suggestion():
    with pytest.raises(ConfigError) as raised:
        sets(groups={"colours": ["u_g", "g_rr"]})
    text = str(raised.value)
    assert "ablations.groups.colours" in text and "'g_rr'" in text and "did you mean 'g_r'" in text
    assert "\n" not in text and "Traceback" not in text


@pytest.mark.parametrize("section, field", [
    ({"features": ["uu"]}, "ablations.features"),
    ({"replace": {"colour": "mean"}, "groups": {"colours": ["u_g"]}}, "ablations.replace.colour"),
    ({"keep_only": {"basic": ["u", "x"]}}, "ablations.keep_only.basic"),
])
def test_unknown_names_elsewhere(section, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        sets(**section)


def test_removing_every_feature_or_keeping_every_one_is_an_error():
    with pytest.raises(ConfigError, match="removes every feature"):
        resolve_feature_sets(Ablations(features="each"), ["u"], {})
    with pytest.raises(ConfigError, match="full model"):
        sets(keep_only=list(FEATURES))


def test_location_comes_from_the_project_file():
    loaded = parse_project(minimal_project_text(extra="ablations:\n  groups: {colours: [u_g, nope]}\n"),
                           Path("mlproj.yaml"))
    with pytest.raises(ConfigError) as raised:
        resolve_feature_sets(loaded.project.ablations, FEATURES, DERIVED, where=loaded.where)
    assert "mlproj.yaml:" in str(raised.value) and "ablations.groups.colours" in str(raised.value)


# ------------------------------------------------------------------------------ in the plan


CANDIDATES = "  - {name: lr, estimator: LogisticRegression}\n  - {name: tree, estimator: DecisionTreeClassifier}\n"


def project(extra: str = ""):
    text = minimal_project_text(extra="validation: {folds: 3, repeats: 2}\nbaselines: [dummy]\n"
                                f"candidates:\n{CANDIDATES}" + extra)
    return parse_project(text, Path("mlproj.yaml")).project


def labels(n: int = 90) -> np.ndarray:
    return np.random.default_rng(0).permutation(np.arange(n) % 2)


def plan_of(p):
    return compile_plan(p, model_specs(p), labels(), ["u", "g", "r"], "data", library_version="1.9")


def test_ablation_tasks_share_the_splits_and_seeds_of_the_full_models():
    plan = plan_of(project("ablations: {features: each}\n"))
    assert [f.name for f in plan.feature_sets] == ["-u", "-g", "-r"]
    assert plan.ablated_models == ["lr", "tree"]  # every candidate, not the baseline
    assert len(plan.ablation_tasks) == 3 * 2 * 6
    full = {(t.model, t.repeat, t.fold): t for t in plan.tasks}
    for task in plan.ablation_tasks:
        twin = full[(task.model, task.repeat, task.fold)]
        assert task.seed == twin.seed and task.key != twin.key
        np.testing.assert_array_equal(plan.rows_for(task)[0], plan.rows_for(twin)[0])
        np.testing.assert_array_equal(plan.rows_for(task)[1], plan.rows_for(twin)[1])
    assert len({t.key for t in plan.ablation_tasks}) == len(plan.ablation_tasks)
    assert not any(t.feature_set for t in plan.tasks)


def test_adding_ablations_keeps_every_full_model_key():
    plain, ablated = plan_of(project()), plan_of(project("ablations: {features: each, models: [tree]}\n"))
    assert [t.key for t in plain.tasks] == [t.key for t in ablated.tasks]
    assert {m: t.key for m, t in plain.final_tasks.items()} == {m: t.key for m, t in ablated.final_tasks.items()}
    assert plain.ablation_tasks == [] and plain.feature_sets == []
    assert ablated.ablated_models == ["tree"]


def test_keys_without_ablations_are_those_of_the_earlier_format():
    """A project without ablations hashes exactly the payload it hashed before ablations existed."""
    p = project()
    plan = plan_of(p)
    base = {"version": CACHE_VERSION, "library": "1.9", "data": "data", "task": "classification", "label": "c",
            "classes": list(p.classes.items()), "features": ["u", "g", "r"], "derived": {}}
    for task in plan.tasks:
        train, valid = plan.rows_for(task)
        payload = dict(base, model=plan.model(task.model).identity(), train=_hash_indices(train),
                       valid=_hash_indices(valid), seed=task.seed)
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        assert task.key == hashlib.sha256(text.encode()).hexdigest()


def test_ablation_key_depends_on_the_feature_set_only_through_its_definition():
    a = plan_of(project("ablations: {groups: {first: [u]}}\n"))
    b = plan_of(project("ablations: {features: [u]}\n"))  # another name, the same columns
    assert [t.key for t in a.ablation_tasks] == [t.key for t in b.ablation_tasks]
    c = plan_of(project("ablations: {replace: {u: mean}}\n"))
    assert not {t.key for t in a.ablation_tasks} & {t.key for t in c.ablation_tasks}


def test_unknown_ablated_model_is_an_error():
    with pytest.raises(ConfigError, match=r"ablations\.models.*did you mean 'tree'"):
        plan_of(project("ablations: {features: each, models: [tre]}\n"))


def test_plan_dict_lists_tasks_by_kind():
    plan = plan_of(project("ablations: {features: [u], groups: {gr: [g, r]}}\n"))
    kinds = plan.to_dict()["kinds"]
    assert kinds["cross_validation"] == {"dummy": 6, "lr": 6, "tree": 6}
    assert [(a["name"], a["removed"], a["fits"]) for a in kinds["ablations"]] == [
        ("-u", ["u"], 12), ("-gr", ["g", "r"], 12)]
    assert kinds["variants"] == [] and kinds["harness"] == []
    assert [f["model"] for f in kinds["final"]] == ["dummy", "lr", "tree"]
    assert len(plan.to_dict()["ablation_tasks"]) == 24


def test_plan_dict_lists_the_harness_checks_by_their_names():
    plan = plan_of(project("harness:\n  - {kind: invariance, perturb: {noise: 0.05}}\n"
                           "  - {kind: hybrid, combine: [galaxy, galaxy], expect: galaxy, name: pairs}\n"))
    assert plan.to_dict()["kinds"]["harness"] == [{"kind": "invariance", "name": "invariance (noise 0.05)"},
                                                  {"kind": "hybrid", "name": "pairs"}]
