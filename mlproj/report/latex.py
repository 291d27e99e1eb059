"""`mlproj report --latex`: the comparison table as a LaTeX fragment (booktabs), ready to \\input.

Mean ± corrected SE with the digits the uncertainty supports (science.numbers.significant), the
interval, and each model's decision against the selected one. Names from the project file are
escaped, so an underscore in `random_forest` does not break the document.
"""

from __future__ import annotations

from mlproj.analyse.types import Summary, or_nan
from mlproj.report.sections import estimate_interval
from mlproj.science.numbers import significant
from mlproj.verdict.types import Verdict

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "−": "-", "±": r"$\pm$", "—": "---"}


def tex(text: str) -> str:
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def _number(text: str) -> str:
    """'0.9588 ± 0.0083' as math: $0.9588 \\pm 0.0083$."""
    if text == "—":
        return "---"
    return "$" + text.replace(" ± ", r" \pm ").replace("−", "-") + "$"


def comparison_table(summary: Summary, verdict: Verdict) -> str:
    parts = ["% Written by mlproj report --latex; needs \\usepackage{booktabs}."]
    for case in summary.cases:
        judged = verdict.selection(case.name)
        selected = judged.selected_model if judged is not None else None
        primary = case.primary.label
        against = {c.a: c.decision for c in verdict.comparisons if c.selection in (None, case.name) and c.b == selected}
        roles = {m.name: m.role for m in summary.models}
        rows = []
        for name, scores in case.models.items():
            e = scores.metrics.get(primary)
            value = "---" if e is None or e.mean is None else _number(significant(e.mean, or_nan(e.se)))
            shown = estimate_interval(e)
            decision = "selected" if name == selected else against.get(name, "---")
            cell = rf"\textbf{{{tex(name)}}}" if name == selected else tex(name)
            rows.append(rf"{cell} & {tex(roles.get(name, ''))} & {value} & "
                        rf"{'---' if shown == '—' else '$' + shown.replace('−', '-') + '$'} & {tex(decision)} \\")
        several = f" ({tex(case.name)})" if len(summary.cases) > 1 else ""
        parts += [
            r"\begin{table}",
            r"\centering",
            rf"\caption{{Cross-validated {tex(primary)}{several} over {summary.repeats} $\times$ {summary.folds} "
            rf"folds: mean $\pm$ corrected standard error and {summary.confidence * 100:g}\% interval; decisions "
            rf"against the selected model with a margin of $\pm${case.margin:g}.}}",
            r"\begin{tabular}{llccl}",
            r"\toprule",
            rf"Model & Role & {tex(primary)} & {summary.confidence * 100:g}\% interval & Decision \\",
            r"\midrule",
            *rows,
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table}",
        ]
    return "\n".join(parts) + "\n"
