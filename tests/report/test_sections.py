"""Tests of mlproj.report.sections: what the report says, in the paper's order, from typed objects."""

from __future__ import annotations

from mlproj.analyse.types import DataDescription
from mlproj.report.document import FigureBlock, Table
from mlproj.report.sections import ReportContext, methods_paragraph, report_document, trials_section
from mlproj.verdict.judge import judge
from tests.verdict.test_judge import scores, standard, summary

PROJECT = {"name": "p", "objective": {"statement": "Find   galaxies\n for a study."},
           "classes": {"star": "class == 'STAR'", "qso": "class == 'QSO'"}, "positive": "star",
           "validation": {"test_size": 0.2, "folds": 5, "repeats": 2, "strategy": "stratified", "seed": 0}}
ENVIRONMENT = {"created": "2026-12-03T10:00:00+00:00", "python": "3.11.7",
               "packages": {"mlproj": "0.1.0", "scikit-learn": "1.9.1", "numpy": "2.4.6", "scipy": "1.17.1"}}


def context(**kw) -> ReportContext:
    return ReportContext("20261203T100000Z-abcdef12", PROJECT, ENVIRONMENT, {"strategy": "stratified", "total_fits": 30},
                         **kw)


def with_data(s):
    s.data = DataDescription("/data/catalogue.csv", 120, 100, {"matching no class": 20}, {"star": 60, "qso": 40},
                             ["u", "g"], 80, 20, {"u": 3}, {"g": 2})
    return s


def test_sections_come_in_the_papers_order():
    s = with_data(summary(standard(scores(0.95))))
    doc = report_document(s, judge(s), context())
    ids = [section.id for section in doc.sections]
    assert ids[:5] == ["objective", "data", "plan", "comparison", "selection"]
    assert ids[-3:] == ["verdict", "methods", "trials"]
    assert doc.status == "pass" and doc.title == "p: PASS"


def test_the_data_section_names_the_classes_and_what_was_dropped_or_missing():
    s = with_data(summary(standard(scores(0.95))))
    data = report_document(s, judge(s), context()).sections[1]
    text = str(data.blocks)
    assert "Dropped 20 rows matching no class" in text and "u: 3 sentinel values" in text and "g 2" in text
    table = next(b for b in data.blocks if isinstance(b, Table))
    assert ("star", "class == 'STAR'", "60") in table.rows


def test_figures_appear_in_their_sections_only_when_made():
    s = with_data(summary(standard(scores(0.95))))
    corner = FigureBlock("corner", "Features by class.", "corner plot")
    doc = report_document(s, judge(s), context(figures={"corner": corner}))
    assert doc.figures() == [corner] and corner in doc.sections[1].blocks
    assert report_document(s, judge(s), context()).figures() == []


def test_the_methods_paragraph_states_the_design_and_the_software():
    s = with_data(summary(standard(scores(0.95))))
    verdict = judge(s)
    text = methods_paragraph(s, verdict, context())
    for expected in ("2 × repeated 5-fold stratified cross-validation of 80 development objects",
                     "20 objects (20% of the catalogue) were held out", "Nadeau & Bengio (2003)",
                     "Corani & Benavoli 2015", "±0.01", "0.95", "scikit-learn 1.9.1", "Python 3.11.7",
                     f"The verdict was {verdict.status.upper()}"):
        assert expected in text, expected


def test_the_record_of_trials_lists_every_run():
    section = trials_section([{"time": "t1", "run": "r1", "models": "dummy hgb", "selected": "hgb", "mean": "0.91",
                               "se": "0.01", "verdict": "fail"},
                              {"time": "t2", "run": "r2", "models": "dummy", "selected": "", "mean": "", "se": "",
                               "verdict": "undetermined"}])
    table = section.blocks[0]
    assert [row[1] for row in table.rows] == ["r1", "r2"]
    assert table.rows[0][4] == "0.910 ± 0.010" and table.rows[1][4] == "—" and table.rows[1][3] == "—"
