"""Tests of mlproj.report.junit: the verdict as JUnit XML, one test case per criterion."""

from __future__ import annotations

from xml.etree import ElementTree

from mlproj.report.junit import write_junit
from mlproj.verdict.judge import judge
from tests.verdict.test_judge import scores, standard, summary


def test_one_case_per_criterion_failures_and_skipped(tmp_path):
    verdict = judge(summary(standard(scores(0.905, scale=0.05))))  # finish line undetermined
    path = tmp_path / "report.xml"
    write_junit(path, verdict, "demo")
    suite = ElementTree.parse(path).getroot().find("testsuite")
    assert suite.get("name") == "mlproj.demo" and suite.get("tests") == str(len(verdict.criteria))
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c.name for c in verdict.criteria]
    assert int(suite.get("skipped")) == sum(c.status == "undetermined" for c in verdict.criteria) == 1
    assert int(suite.get("failures")) == sum(c.status == "fail" for c in verdict.criteria) == 0
    finish = cases[0]
    assert finish.find("skipped").get("message").startswith("undetermined: hgb: roc_auc")
    assert finish.find("system-out").text == verdict.criteria[0].detail


def test_names_with_control_characters_give_well_formed_xml(tmp_path):
    """A selection (science case) named with terminal escapes reaches every criterion's name and
    detail; XML 1.0 forbids such characters even as references, so the writer replaces them."""
    first = standard(scores(0.95))
    second = standard(scores(0.95), name="a\x1b]0;x\x07", required=False)
    verdict = judge(summary(first, second))
    assert any("\x1b" in c.name for c in verdict.criteria)
    path = tmp_path / "report.xml"
    write_junit(path, verdict, "\x1b[31mred")
    text = path.read_text(encoding="utf-8")
    assert "\x1b" not in text and "\x07" not in text
    suite = ElementTree.parse(path).getroot().find("testsuite")
    assert suite.get("name") == "mlproj.\\x1b[31mred"
    names = [c.get("name") for c in suite.findall("testcase")]
    assert any(n.startswith("a\\x1b]0;x\\x07") for n in names)
    assert any(c.name.startswith("a\x1b") for c in verdict.criteria)  # the verdict itself is left as it is
