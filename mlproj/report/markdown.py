"""Markdown: report.md and `mlproj verdict --markdown` (CI step summaries, pull-request comments).

GitHub-flavoured Markdown: pipe tables, figures as relative image links to `figures/`. Text from
the project (names, class definitions, warnings) is escaped so that it shows as written and
cannot add markup or HTML to a CI page.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlproj.analyse.types import Summary
from mlproj.report.document import Bullets, Code, Document, FigureBlock, Paragraph, Section, Table
from mlproj.report.sections import verdict_document
from mlproj.store.files import write_text_atomic
from mlproj.verdict.types import Verdict

# Characters that are markup wherever they stand; the others only in their places (below), so
# that report.md stays readable as plain text: "[0.94, 0.97]" and "tpr_at_fpr" are left alone.
_ALWAYS = re.compile(r"([\\`*|<>&])")
_LINK = re.compile(r"\]\(")  # [text](url)
_EMPHASIS = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")  # _word_, never snake_case
_LEADING = re.compile(r"^([#+-])(?= )")  # a heading or list item when it starts a line
_NUMBERED = re.compile(r"^(\d+)([.)])(?= )")  # "1. " starts a numbered list
_STATUS = {"pass": "✅ PASS", "fail": "❌ FAIL", "undetermined": "⚠️ UNDETERMINED"}


def escape(text: str) -> str:
    """Text shown as written: markup characters escaped where they would act, lines joined."""
    text = _ALWAYS.sub(r"\\\1", " ".join(str(text).split()))
    text = _EMPHASIS.sub(r"\\_", _LINK.sub(r"]\\(", text.replace("~~", r"\~\~").replace("![", r"\!\[")))
    return _NUMBERED.sub(r"\1\\\2", _LEADING.sub(r"\\\1", text))


def render(document: Document, figures: str = "figures") -> str:
    lines = [f"# {escape(document.title)}", "", escape(document.subtitle), ""]
    if document.status:
        lines += [f"**Verdict: {_STATUS[document.status]}**", ""]
    for section in document.sections:
        lines += _section(section, figures)
    return "\n".join(lines).rstrip() + "\n"


def _section(section: Section, figures: str) -> list[str]:
    lines = [f"## {escape(section.title)}", ""]
    for block in section.blocks:
        if isinstance(block, Paragraph):
            prefix = {"warning": "> **Warning:** ", "note": "> **Note:** "}.get(block.kind, "")
            if block.kind.startswith("verdict-"):
                prefix = f"**{_STATUS[block.kind.removeprefix('verdict-')]}** — "
            lines += [prefix + escape(block.text), ""]
        elif isinstance(block, Bullets):
            lines += [f"- {escape(item)}" for item in block.items] + [""]
        elif isinstance(block, Table):
            lines += _table(block)
        elif isinstance(block, FigureBlock):
            lines += [f"![{escape(block.alt)}]({figures}/{block.stem}.png)", "",
                      f"*{escape(block.caption)}* ([PDF]({figures}/{block.stem}.pdf))", ""]
        elif isinstance(block, Code):
            fence = "````" if "```" in block.text else "```"
            lines += [fence + "text", block.text.rstrip(), fence, ""]
    return lines


def _table(table: Table) -> list[str]:
    def row(cells, bold=False) -> str:
        shown = [escape(c) if c else " " for c in cells]
        if bold:
            shown = [f"**{c}**" if c.strip() else c for c in shown]
        return "| " + " | ".join(shown) + " |"

    numeric = table.numeric or (False,) * len(table.headers)
    lines = [f"*{escape(table.caption)}*", ""] if table.caption else []
    lines += [row(table.headers), "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"]
    lines += [row(cells, i in table.highlight) for i, cells in enumerate(table.rows)]
    return lines + [""]


def verdict_markdown(verdict: Verdict, summary: Summary, project: str, stale: list[str] = ()) -> str:
    """The verdict alone, for a CI step summary: status, reason, finish line, criteria,
    comparisons and warnings."""
    return render(verdict_document(verdict, summary, project, stale))


def write_verdict_markdown(path: Path, verdict: Verdict, summary: Summary, project: str,
                           stale: list[str] = ()) -> None:
    """`mlproj verdict --markdown FILE`: written atomically; `-` is standard output. A CI step
    summary file ($GITHUB_STEP_SUMMARY) is appended to, as GitHub expects of several steps."""
    import os
    import sys

    text = verdict_markdown(verdict, summary, project, stale)
    if str(path) == "-":
        sys.stdout.write(text)
        return
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file and Path(summary_file).resolve() == Path(path).resolve():
        from mlproj.errors import storage_error

        try:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise storage_error(exc, "write", Path(path)) or exc from None
        return
    write_text_atomic(Path(path), text)
