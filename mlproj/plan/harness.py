"""The names and descriptions of a project's test-harness checks (paper §2.4).

Each check becomes a verdict criterion called `harness: <name>`: its own `name`, or one made from
its kind and settings ("invariance (permute r)", "cases (harness/handmade.csv)", "hybrid (galaxy +
galaxy → galaxy)"). `mlproj plan`, the run and the report all name a check through here.
"""

from __future__ import annotations

from mlproj.project.schema import HarnessCheck

__all__ = ["CRITERION_PREFIX", "DEFAULT_MIN_FRACTION", "check_name", "criterion_name", "min_fraction"]

CRITERION_PREFIX = "harness: "
# Every hand-crafted input is a requirement; hybrids are random pairs, some of which may be odd.
DEFAULT_MIN_FRACTION = {"cases": 1.0, "hybrid": 0.9}


def check_name(check: HarnessCheck) -> str:
    """The check's name: its own, or its kind and settings."""
    if check.name:
        return check.name
    if check.kind == "invariance":
        perturb = check.perturb
        if "permute" in perturb:
            columns = perturb["permute"]
            columns = [columns] if isinstance(columns, str) else list(columns or [])
            return f"invariance (permute {', '.join(map(str, columns))})"
        noise = perturb.get("noise")
        on = f" on {', '.join(check.features)}" if check.features else ""
        return f"invariance (noise {'at the errors' if noise == 'errors' else noise}{on})"
    if check.kind == "cases":
        return f"cases ({check.path})"
    combine = check.combine or ["?", "?"]
    return f"hybrid ({combine[0]} + {combine[1]} → {check.expect})"


def criterion_name(check: HarnessCheck) -> str:
    return CRITERION_PREFIX + check_name(check)


def min_fraction(check: HarnessCheck) -> float:
    """The fraction of cases or hybrids that must give the expected output."""
    return check.min_fraction if check.min_fraction is not None else DEFAULT_MIN_FRACTION.get(check.kind, 0.9)
