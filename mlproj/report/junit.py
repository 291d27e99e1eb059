"""The verdict as a JUnit XML report: one test case per criterion, so that CI systems show the
failed criteria as failures and the undetermined ones as skipped."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from mlproj.errors import MlprojError, printable
from mlproj.store import rundir
from mlproj.verdict.types import Verdict


def write_junit(path: Path, verdict: Verdict, project_name: str) -> None:
    """One test case per criterion. Names and details are made printable first: XML 1.0 forbids
    most control characters even as character references (a selection or project named with
    terminal escapes would make the report unreadable)."""
    project = printable(project_name)
    criteria = verdict.criteria
    suite = ElementTree.Element("testsuite", name=f"mlproj.{project}", tests=str(len(criteria)),
                                failures=str(sum(c.status == "fail" for c in criteria)),
                                skipped=str(sum(c.status == "undetermined" for c in criteria)))
    for criterion in criteria:
        name, detail = printable(criterion.name), printable(criterion.detail)
        case = ElementTree.SubElement(suite, "testcase", classname=f"mlproj.{project}", name=name)
        if criterion.status == "fail":
            ElementTree.SubElement(case, "failure", message=detail).text = detail
        elif criterion.status == "undetermined":
            ElementTree.SubElement(case, "skipped", message="undetermined: " + detail)
        ElementTree.SubElement(case, "system-out").text = detail
    root = ElementTree.Element("testsuites", name="mlproj")
    root.append(suite)
    ElementTree.indent(root)
    try:
        rundir.write_atomic(Path(path), ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n")
    except OSError as exc:
        raise MlprojError(f"cannot write the JUnit report {path}: {exc.strerror}") from None
