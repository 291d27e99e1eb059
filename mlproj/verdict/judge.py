"""Judge a run against its finish lines (pure: the summary in, the verdict out).

`mlproj verdict` re-runs this on the stored summary, so a verdict can always be re-derived
without refitting anything. The states and exit codes are the CLI contract (DESIGN §4). A
project may hold several science cases (selections); each gets its own criteria, and the overall
verdict passes only if every required criterion passes.
"""

from __future__ import annotations

import math

from mlproj.analyse.failures import failed_fit_warnings
from mlproj.science import stats

EXIT_CODES = {"pass": 0, "fail": 1, "undetermined": 3}
_CRITERION_STATUS = {"reached": "pass", "not_reached": "fail", "undetermined": "undetermined"}


def judge(summary: dict) -> dict:
    """verdict.json: status, selected model, primary score, criteria, comparisons, warnings."""
    design = {"folds": summary["folds"], "repeats": summary["repeats"], "confidence": summary["confidence"]}
    models = {m["name"]: m for m in summary["models"]}
    several = len(summary["cases"]) > 1
    warnings = list(summary.get("warnings", [])) + failed_fit_warnings(summary)

    judged = [_judge_case(case, models, design, summary.get("test"), several) for case in summary["cases"]]
    criteria = [c for case in judged for c in case["criteria"]]
    comparisons = [c for case in judged for c in case["comparisons"]]
    for case in judged:
        warnings.extend(case.pop("warnings"))
    power = summary.get("power")
    if power is not None:
        main = judged[0]
        criteria.append(_power_criterion(power, main["selected_model"]))

    required = [c["status"] for c in criteria if c.get("required", True)]
    status = "fail" if "fail" in required else "undetermined" if "undetermined" in required or not required else "pass"
    main = judged[0]
    test = summary.get("test") or {}
    return {
        "status": status,
        "selected_model": main["selected_model"],
        "reason": main["reason"],
        "primary": main["primary"],
        "finish_line": main["finish_line"],
        "criteria": criteria,
        "comparisons": comparisons,
        "selections": [{k: v for k, v in case.items() if k not in ("criteria", "comparisons")} for case in judged],
        "power": power,
        "diagnostics": summary.get("diagnostics"),
        "test": test.get("models", {}).get(main["selected_model"]) if main["selected_model"] else None,
        "test_uses": test.get("uses"),
        "warnings": warnings,
        "exit_code": EXIT_CODES[status],
    }


def _bounds(primary: dict) -> tuple[float, float]:
    """The values the primary metric can take (None: unbounded; older runs recorded none)."""
    low, high = primary.get("bounds") or (None, None)
    return (-math.inf if low is None else low, math.inf if high is None else high)


def _scores(case: dict, name: str) -> list[float]:
    return [math.nan if s is None else s for s in case["models"][name]["scores"]]


def _judge_case(case: dict, models: dict, design: dict, test: dict | None, several: bool) -> dict:
    folds, repeats, confidence = design["folds"], design["repeats"], design["confidence"]
    better_high = case["primary"]["greater_is_better"]
    label = case["primary"]["label"]
    prefix = f"{case['name']}: " if several else ""
    base = {"selection": case["name"], "required": case["required"]}
    usable = [name for name in case["models"] if any(s is not None for s in case["models"][name]["scores"])]
    if not usable:
        return {**base, "selected_model": None, "reason": "no model produced scores for this selection",
                "primary": {"name": label, "mean": None, "se": None, "interval": [None, None], "n": 0,
                            "confidence": confidence, "greater_is_better": better_high},
                "finish_line": None, "comparisons": [],
                "criteria": [{**base, "name": prefix + "finish_line", "status": "undetermined", "value": None,
                              "threshold": case["threshold"], "detail": "every fit failed: nothing to judge"}],
                "warnings": []}

    candidates = [stats.Candidate(n, _scores(case, n), models[n]["simplicity"],
                                  models[n]["fit_seconds"] if models[n]["fit_seconds"] is not None else math.nan)
                  for n in usable]
    selection = stats.select_model(candidates, folds=folds, repeats=repeats, margin=case["margin"],
                                   greater_is_better=better_high, confidence=confidence)
    primary = stats.summarize(_scores(case, selection.selected), folds, repeats, confidence,
                              bounds=_bounds(case["primary"]))
    finish = stats.judge_finish_line(primary, case["threshold"], case["margin"], better_high)
    criteria = [{**base, "name": prefix + "finish_line", "status": _CRITERION_STATUS[finish.state],
                 "value": _num(primary.mean), "threshold": case["threshold"],
                 "detail": f"{selection.selected}: {label} = {stats.significant(primary.mean, primary.se)}, "
                           f"{finish.state.replace('_', ' ')}: {finish.detail}"}]
    if "dummy" in case["models"]:
        criteria.append({**base, "name": prefix + "beats_trivial_baseline",
                         **_versus_dummy(case, selection, folds, repeats, confidence)})

    comparisons = []
    challenger = _best_challenger(case, models, usable, better_high)
    for name, info in models.items():
        if info["role"] != "baseline" or challenger is None or name == challenger or name not in case["models"]:
            continue
        c = stats.compare(_scores(case, name), _scores(case, challenger), names=(name, challenger), folds=folds,
                          repeats=repeats, margin=case["margin"], greater_is_better=better_high,
                          confidence=confidence).to_dict()
        comparisons.append({"selection": case["name"], "a": c["a"], "b": c["b"], "difference": c["difference"],
                            "interval": c["interval"], "p_better": c["p_better"], "p_equivalent": c["p_equivalent"],
                            "p_worse": c["p_worse"], "decision": c["decision"], "margin": c["margin"]})

    warnings = []
    tested = (test or {}).get("models", {}).get(selection.selected)
    if tested:
        value = tested["cases"].get(case["name"], {}).get("metrics", {}).get(label)
        lo, hi = primary.interval
        low_edge, high_edge = lo - case["margin"], hi + case["margin"]
        if value is not None and math.isfinite(low_edge) and math.isfinite(high_edge) and not low_edge <= value <= high_edge:
            # Better than cross-validation is as suspect as worse: an easier or leaking test set.
            worse = value < low_edge if better_high else value > high_edge
            why = ("the test set may differ from the development data, or be too small" if worse else
                   "the test set may be easier than the development data, share objects with it, or be too small")
            warnings.append(f"{prefix}the held-out test {label} of {selection.selected} ({value:.4g}) is "
                            f"{'worse' if worse else 'better'} than the cross-validated interval by more than the "
                            f"margin: {why}")
    uncertainty = _uncertainty(case, selection.selected, design)
    criteria.extend({**base, **c} for c in _uncertainty_criteria(case, selection.selected, prefix))
    if tested and tested["cases"].get(case["name"], {}).get("pit", {}).get("flagged"):
        warnings.append(f"{prefix}predicted uncertainties of {selection.selected} on the test set: "
                        + tested["cases"][case["name"]]["pit"]["detail"])
    return {
        **base,
        "uncertainty": uncertainty,
        "selected_model": selection.selected,
        "reason": selection.reason,
        "primary": {"name": label, "mean": _num(primary.mean), "se": _num(primary.se),
                    "interval": [_num(primary.interval[0]), _num(primary.interval[1])],
                    "confidence": confidence, "n": primary.n, "greater_is_better": better_high},
        "finish_line": finish.to_dict(),
        "criteria": criteria,
        "comparisons": comparisons,
        "warnings": warnings,
    }


def _uncertainty(case: dict, model: str, design: dict) -> dict | None:
    """σ(x) methods of the selected model, judged by CRPS with the same paired rule as models."""
    methods = case.get("uncertainty_methods") or []
    if not methods:
        return None
    entry = case["models"][model]
    result = {"model": model, "methods": {}, "comparisons": []}
    for method in methods:
        result["methods"][method] = {
            name: entry["uncertainty"][f"{name}[{method}]"]["mean"] for name in ("crps", "nll", "coverage_68",
                                                                              "coverage_95", "pit_ks")}
    crps = {m: [math.nan if v is None else v for v in entry["uncertainty_scores"][m]] for m in methods}
    for method in methods[1:]:
        # No margin: any CRPS gain of a σ model over the single global σ must be resolved by the folds.
        c = stats.compare(crps["global"], crps[method], names=("global", method), folds=design["folds"],
                          repeats=design["repeats"], margin=0.0, greater_is_better=False,
                          confidence=design["confidence"]).to_dict()
        result["comparisons"].append({k: c[k] for k in ("a", "b", "difference", "interval", "p_better",
                                                         "p_worse", "decision")})
    return result


def _uncertainty_criteria(case: dict, model: str, prefix: str) -> list[dict]:
    """Optional criteria on the predicted σ of the configured method (paper §5.2: error bars that
    really cover 68%): judged by the corrected interval like the finish line."""
    wanted = case.get("uncertainty_criteria") or {}
    if not wanted:
        return []
    method = case["uncertainty_methods"][-1]
    stored = case["models"][model]["uncertainty"]
    out = []
    if "coverage_68" in wanted:
        low, high = wanted["coverage_68"]
        s = stored[f"coverage_68[{method}]"]
        mean, (lo, hi) = s["mean"], s["interval"]
        if mean is None or lo is None:
            status = "undetermined"
        elif low <= lo and hi <= high:
            status = "pass"
        elif hi < low or lo > high:
            status = "fail"
        else:
            status = "undetermined"
        out.append({"name": prefix + "coverage_68", "status": status, "value": mean, "threshold": [low, high],
                    "detail": f"{model} ({method} σ): 68% coverage {stats.significant(_nan(mean), _nan(s['se']))}, "
                              f"interval [{_fmt(lo)}, {_fmt(hi)}], required within [{low:g}, {high:g}]"})
    if "crps" in wanted:
        limit = wanted["crps"]
        s = stored[f"crps[{method}]"]
        mean, (lo, hi) = s["mean"], s["interval"]
        status = ("undetermined" if mean is None or hi is None else "pass" if hi <= limit
                  else "fail" if lo > limit else "undetermined")
        out.append({"name": prefix + "crps", "status": status, "value": mean, "threshold": limit,
                    "detail": f"{model} ({method} σ): CRPS {stats.significant(_nan(mean), _nan(s['se']))}, "
                              f"interval [{_fmt(lo)}, {_fmt(hi)}], required below {limit:g}"})
    return out


def _nan(value) -> float:
    return math.nan if value is None else value


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4g}"


def _versus_dummy(case: dict, selection: stats.Selection, folds: int, repeats: int, confidence: float) -> dict:
    """Does the selected model (the one reported and used) beat the uninformative dummy? When the
    dummy itself is selected, the best model is compared with it, to show by how little it fails."""
    selected = selection.best if selection.selected == "dummy" else selection.selected
    if not any(math.isfinite(v) for v in _scores(case, "dummy")):
        # e.g. the purity of a dummy that selects nothing: there is no trivial score to beat, and
        # a criterion that cannot be judged must not hold the verdict back.
        return {"status": "undetermined", "required": False, "value": None, "threshold": case["margin"],
                "detail": f"the uninformative dummy has no {case['primary']['label']} in any fold (e.g. it "
                          "selects nothing), so there is nothing to compare with; not counted in the verdict"}
    if selected == "dummy":
        return {"status": "fail", "value": 0.0, "threshold": case["margin"],
                "detail": "no model scores better than the uninformative dummy baseline"}
    versus = stats.compare(_scores(case, "dummy"), _scores(case, selected), names=("dummy", selected), folds=folds,
                           repeats=repeats, margin=case["margin"], greater_is_better=case["primary"]["greater_is_better"],
                           confidence=confidence)
    return {"status": {"improved": "pass", "undetermined": "undetermined"}.get(versus.decision, "fail"),
            "value": _num(versus.difference), "threshold": case["margin"],
            "detail": f"{selected} vs dummy: {versus.decision} (P(better) = {versus.p_better:.3f}, "
                      f"difference {stats.significant(versus.difference, versus.se)})"}


def _best_challenger(case: dict, models: dict, usable: list[str], better_high: bool) -> str | None:
    """The best candidate (or, without candidates, the best model other than the dummy)."""
    def mean(name):
        values = [s for s in _scores(case, name) if not math.isnan(s)]
        return (1 if better_high else -1) * sum(values) / len(values)

    pool = [n for n in usable if models[n]["role"] == "candidate"] or [n for n in usable if n != "dummy"]
    return max(pool, key=mean) if pool else None


def _power_criterion(power: dict, selected: str | None) -> dict:
    base = {"selection": power.get("selection"), "required": True, "name": "can_distinguish_hypotheses",
            "threshold": power.get("target_power")}
    if power.get("model") != selected or power.get("power") is None:
        return {**base, "status": "undetermined", "value": None,
                "detail": "no power analysis for the selected model (no operating-point counts)"}
    return {**base, "status": "pass" if power["passed"] else "fail", "value": power["power"], "detail": power["detail"]}


def _num(value) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
