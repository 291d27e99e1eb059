"""Tests of mlproj.report.ablations and where the ablations are shown: the report section (table
and chart), the console verdict, metrics.json and the chart's drawing. The verdict never changes
because of an ablation."""

from __future__ import annotations

import dataclasses

import numpy as np
from matplotlib.image import imread
from rich.console import Console

from mlproj.analyse.ablations import effect_of
from mlproj.plan.ablations import FeatureSet
from mlproj.report import console, figures
from mlproj.report.ablations import ablation_chart_data, ablation_rows, ablation_section
from mlproj.report.document import FigureBlock, Paragraph, Table
from mlproj.report.metrics import flat_metrics
from mlproj.verdict.judge import judge
from tests.verdict.test_judge import FOLDS, REPEATS, scores, standard, summary

HGB = scores(0.95)
SETS = [FeatureSet("-u", "drop", (1, 2), (), ("u",), ("u_g",), "without u (and u_g, derived from it)"),
        FeatureSet("-colours", "group", (0,), (), ("u_g", "g_r"), (), "without u_g, g_r"),
        FeatureSet("colours=mean", "replace", (0, 1, 2), ((1, "mean"), (2, "mean")), ("u_g", "g_r"), (), "")]


def with_ablations():
    s = summary(standard(HGB))
    case = s.cases[0]
    ablated = [HGB, [v - 0.04 for v in scores(0.95, 0.012)], [v - 0.03 for v in HGB]]
    s.ablations = [effect_of(f, "hgb", case.models["hgb"].scores, a, case, folds=FOLDS, repeats=REPEATS,
                             confidence=s.confidence) for f, a in zip(SETS, ablated)]
    return s


def test_rows_name_the_removed_features_with_difference_interval_decision_and_sentence():
    rows = ablation_rows(with_ablations().ablations)
    assert [r[0] for r in rows] == ["-u", "-colours", "colours=mean"]
    u, colours, mean = rows
    assert u[2] == "u (+ u_g, derived)" and u[5] == "equivalent" and "u is not needed" in u[6]
    assert colours[2] == "u_g, g_r" and colours[5] == "worse" and " ± " in colours[3]
    assert colours[4].startswith("[-0.0") and colours[4].endswith("]")
    assert mean[2] == "u_g, g_r (replaced)" and mean[5] == "worse"


def test_the_section_has_the_table_and_the_chart_and_none_without_ablations():
    s = with_ablations()
    block = FigureBlock("ablations", "caption", "ablation chart")
    section = ablation_section(s, {"ablations": block})
    assert section.id == "ablations" and section.title == "Ablations"
    assert isinstance(section.blocks[0], Paragraph) and f"same {s.repeats} × {s.folds} folds" in section.blocks[0].text
    table = next(b for b in section.blocks if isinstance(b, Table))
    assert table.headers[:3] == ("ablation", "model", "removed features") and len(table.rows) == 3
    assert section.blocks[-1] is block
    assert ablation_section(summary(standard(HGB))) is None


def test_ablations_do_not_change_the_verdict_and_are_listed_by_the_console():
    s = with_ablations()
    plain = judge(summary(standard(HGB)))
    verdict = judge(s)
    assert dataclasses.replace(verdict, warnings=[]) == dataclasses.replace(plain, warnings=[])
    out = Console(record=True, width=160, highlight=False, markup=False, emoji=False)
    console.print_verdict(out, verdict, s)
    text = out.export_text()
    assert "Feature ablations" in text
    for effect in s.ablations:
        assert f"{effect.name}: {effect.sentence}" in " ".join(text.split())
    assert text.index("Feature ablations") < text.index("VERDICT:")


def test_metrics_carry_each_effect():
    s = with_ablations()
    numbers = flat_metrics(s, judge(s))
    colours = s.ablations[1]
    assert numbers["ablation.hgb.-colours.difference"] == colours.difference
    assert numbers["ablation.hgb.-colours.low"] == colours.interval[0]
    assert numbers["ablation.hgb.-colours.decision"] == 1.0 and numbers["ablation.hgb.-u.decision"] == 0.0
    assert not any(k.startswith("ablation.") for k in flat_metrics(summary(standard(HGB)),
                                                                   judge(summary(standard(HGB)))))


def test_chart_data_and_drawing(tmp_path):
    s = with_ablations()
    chart = ablation_chart_data(s.ablations)
    assert [b.label for b in chart.bars] == ["-u", "-colours", "colours=mean"]
    assert chart.margin == 0.01 and chart.bars[1].interval[0] < chart.bars[1].difference < chart.bars[1].interval[1]
    assert ablation_chart_data([]) is None
    png, pdf = figures.render("ablations", chart)
    path = tmp_path / "ablations.png"
    path.write_bytes(png)
    image = imread(path)
    assert image.shape[0] > 100 and float(np.var(image[..., :3])) > 1e-3
    assert pdf.startswith(b"%PDF")


def test_the_markdown_verdict_lists_them_too():
    from mlproj.report.sections import verdict_document

    s = with_ablations()
    document = verdict_document(judge(s), s, "p")
    assert document.sections[-1].id == "ablations"
    assert [sec.id for sec in verdict_document(judge(summary(standard(HGB))), summary(standard(HGB)), "p").sections] \
        == ["verdict", "comparisons"]
