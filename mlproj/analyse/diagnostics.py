"""Out-of-fold diagnostics of a selected model: calibration or the pull toward the training
prior, and the power to tell the hypothesised fractions apart (paper §2.2, §5.3).

Both read the model's pooled out-of-fold predictions of repeat 0 (every development object
once, `summary.pooled_development_predictions`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mlproj.analyse.summary import (
    Case,
    calibration_record,
    point_prediction,
    pooled_development_predictions,
    toward_prior,
)
from mlproj.analyse.types import (
    BestOperatingPoint,
    Calibration,
    CaseResult,
    Diagnostics,
    Power,
    PowerPair,
    TowardPrior,
)
from mlproj.plan.compile import Plan

if TYPE_CHECKING:
    from mlproj.execute.cache import TaskOutput


def model_diagnostics(plan: Plan, outputs: dict[str, TaskOutput], y: np.ndarray, case: Case,
                      model: str) -> Diagnostics:
    """Calibration (classification) or the pull toward the training prior (regression), out of fold."""
    pooled = pooled_development_predictions(plan, outputs, model)
    if pooled is None:
        return Diagnostics(model)
    rows, predictions = pooled
    if plan.task_kind == "regression":
        return Diagnostics(model, toward_prior=TowardPrior.from_dict(
            toward_prior(y[rows], point_prediction(predictions))))
    if predictions.ndim == 1:  # a historical score is no probability
        return Diagnostics(model)
    probability = predictions[:, list(case.positives)].sum(axis=1)
    return Diagnostics(model, calibration=Calibration.from_dict(
        calibration_record(np.isin(y[rows], case.positives), probability)))


def plan_seed(plan: Plan) -> int:
    return plan.splits[0].seed if plan.splits else 0


def hypothesis_power(plan: Plan, outputs: dict[str, TaskOutput], y: np.ndarray, case: Case,
                     case_result: CaseResult, model: str, hypotheses) -> Power:
    """Can the selected model tell the hypothesised fractions apart (paper §2.2)?

    The operating point is the primary metric's (its pooled out-of-fold counts); for metrics
    without one, the 0.5 probability threshold. The ROC is also scanned for the most powerful
    operating point.
    """
    from mlproj.science import power

    pooled = pooled_development_predictions(plan, outputs, model)
    if pooled is None:
        return Power(model=model, selection=case.name, power=None, passed=False,
                     detail="no out-of-fold predictions", target_power=hypotheses.power)
    rows, predictions = pooled
    score = predictions if predictions.ndim == 1 else predictions[:, list(case.positives)].sum(axis=1)
    is_positive = np.isin(y[rows], case.positives)
    counts = case_result.models[model].rates.get(case.primary.label)
    if counts is None:
        selected = score >= 0.5
        rates = power.Rates(int((selected & is_positive).sum()), int(is_positive.sum()),
                            int((selected & ~is_positive).sum()), int((~is_positive).sum()))
    else:
        rates = power.Rates(counts.true_positives, counts.n_positive, counts.false_positives, counts.n_negative)
    result = power.power_analysis(rates, hypotheses.sample_size, hypotheses.fractions, alpha=hypotheses.alpha,
                                  target_power=hypotheses.power, seed=plan_seed(plan))
    best, _ = power.best_operating_point(is_positive, score, hypotheses.sample_size, hypotheses.fractions,
                                         alpha=hypotheses.alpha, target_power=hypotheses.power, seed=plan_seed(plan))
    return Power(model=model, selection=case.name, power=result.power, passed=result.passed, detail=result.detail,
                 target_power=result.target_power, fractions=list(result.fractions), sample_size=result.sample_size,
                 alpha=result.alpha, expected_counts=list(result.expected_counts), null_index=result.null_index,
                 critical_count=result.critical_count,
                 pairwise=[PowerPair.from_dict(pair) for pair in result.pairwise],
                 best_operating_point=BestOperatingPoint(best.threshold, best.tpr, best.fpr, best.power,
                                                     best.critical_count))
