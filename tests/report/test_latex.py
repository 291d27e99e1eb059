"""Tests of mlproj.report.latex: the comparison table as a LaTeX fragment."""

from __future__ import annotations

import dataclasses

from mlproj.report.latex import comparison_table, tex
from mlproj.science.numbers import significant
from mlproj.verdict.judge import judge
from tests.verdict.test_judge import scores, standard, summary


def test_the_table_has_every_model_with_honest_digits():
    s = summary(standard(scores(0.95)))
    verdict = judge(s)
    table = comparison_table(s, verdict)
    assert table.count(r"\begin{table}") == table.count(r"\end{table}") == 1
    assert table.count(r"\begin{tabular}") == table.count(r"\end{tabular}") == 1
    assert r"\usepackage{booktabs}" in table and r"\toprule" in table and r"\bottomrule" in table
    for name, model in s.cases[0].models.items():
        e = model.metrics["roc_auc"]
        assert "$" + significant(e.mean, e.se).replace(" ± ", r" \pm ") + "$" in table
        assert tex(name) in table
    assert rf"\textbf{{{verdict.selected_model}}}" in table
    body = [line for line in table.splitlines() if line.endswith(r"\\")]
    assert len(body) == 1 + len(s.cases[0].models)  # the header and one row per model
    assert all(line.count("&") == 4 for line in body)


def test_names_are_escaped():
    assert tex("random_forest & 100% #1") == r"random\_forest \& 100\% \#1"
    s = summary(standard(scores(0.95)))
    s.cases[0] = dataclasses.replace(s.cases[0], models={k.replace("dummy", "my_dummy"): v
                                                         for k, v in s.cases[0].models.items()})
    s.models = [dataclasses.replace(m, name=m.name.replace("dummy", "my_dummy")) for m in s.models]
    assert r"my\_dummy" in comparison_table(s, judge(s))
