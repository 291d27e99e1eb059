"""Tests of mlproj.report.markdown: report.md and `verdict --markdown` parse as Markdown and show
the project's text as written (nothing from a project file becomes markup or HTML)."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from mlproj.report import markdown
from mlproj.report.document import Bullets, Document, FigureBlock, Paragraph, Section, Table
from mlproj.verdict.judge import judge
from tests.verdict.test_judge import scores, standard, summary

PARSER = MarkdownIt("commonmark").enable("table")


def shown(source: str) -> str:
    """The text a reader sees of rendered Markdown: tags dropped, entities decoded, spaces joined."""
    rendered = PARSER.render(source)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", rendered)).split())


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60))
def test_escaped_text_shows_as_written(text):
    assert shown(markdown.escape(text)) == " ".join(text.split())


def test_project_text_cannot_add_html_or_links():
    text = markdown.escape("<script>alert(1)</script> [click](http://evil) ![x](http://evil/x.png)")
    rendered = PARSER.render(text)
    assert "<script" not in rendered and "<a " not in rendered and "<img" not in rendered


def test_tables_figures_and_warnings_render():
    doc = Document("p: PASS", "Run x", "pass", [Section("s", "Section", [
        Paragraph("careful | pipes", "warning"),
        Bullets(("one", "two")),
        Table(("model", "score"), (("hgb", "0.95 ± 0.01"), ("dummy", "0.50 ± 0.02")), caption="c", numeric=(False, True),
              highlight=frozenset({0})),
        FigureBlock("roc", "The ROC curve.", "ROC curve")])])
    source = markdown.render(doc)
    rendered = PARSER.render(source)
    assert rendered.count("<tr>") == 3 and "<strong>hgb</strong>" in rendered
    assert '<img src="figures/roc.png" alt="ROC curve"' in rendered and 'href="figures/roc.pdf"' in rendered
    assert "careful | pipes" in shown(source)


def test_the_verdict_markdown_has_the_status_criteria_and_comparisons():
    s = summary(standard(scores(0.95)))
    verdict = judge(s)
    source = markdown.verdict_markdown(verdict, s, "galaxy_purity", ["the catalogue changed after the run"])
    text = shown(source)
    assert text.startswith("galaxy_purity: PASS")
    assert "stale run: the catalogue changed after the run" in text
    for criterion in verdict.criteria:
        assert criterion.name in text
    for c in verdict.comparisons:
        assert f"{c.b} vs {c.a}" in text
    assert PARSER.render(source).count("<table>") >= 2


def test_the_verdict_markdown_is_appended_to_a_github_step_summary(tmp_path, monkeypatch):
    s = summary(standard(scores(0.95)))
    target = tmp_path / "summary.md"
    target.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    markdown.write_verdict_markdown(target, judge(s), s, "p")
    assert target.read_text().startswith("earlier step\n# p: PASS")
    other = tmp_path / "comment.md"
    other.write_text("old\n")
    markdown.write_verdict_markdown(other, judge(s), s, "p")
    assert other.read_text().startswith("# p: PASS")  # any other file is replaced
