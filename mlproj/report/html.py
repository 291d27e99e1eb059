"""report.html: one self-contained file (figures embedded, no request leaving the page), readable
on a phone and printable.

Figures are embedded as PNG data URIs; a Content-Security-Policy that allows nothing but inline
styles and data: images makes sure no browser fetches anything for it, whoever edits it later.
Wide tables scroll sideways on a small screen instead of squeezing their numbers.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from html import escape

from mlproj.report.document import Bullets, Code, Document, FigureBlock, Paragraph, Section, Table

_STYLE = """
:root { --fg: #1b1b1b; --muted: #5a5a5a; --line: #d9d9d9; --pass: #117733; --fail: #aa3377;
        --undetermined: #997700; --warn-bg: #fff6df; --note-bg: #eef4fb; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--fg); margin: 0; padding: 0 1rem 3rem; }
main { max-width: 60rem; margin: 0 auto; }
h1 { font-size: 1.6rem; margin: 1.5rem 0 0.2rem; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.6rem; border-bottom: 1px solid var(--line); padding-bottom: 0.2rem; }
.subtitle { color: var(--muted); margin: 0 0 1rem; overflow-wrap: anywhere; }
.status { display: inline-block; font-weight: 700; padding: 0.15rem 0.6rem; border-radius: 0.3rem; color: #fff; }
.status.pass { background: var(--pass); } .status.fail { background: var(--fail); }
.status.undetermined { background: var(--undetermined); }
p, li { overflow-wrap: anywhere; }
.warning { background: var(--warn-bg); border-left: 4px solid var(--undetermined); padding: 0.4rem 0.7rem; }
.note { background: var(--note-bg); border-left: 4px solid #4477aa; padding: 0.4rem 0.7rem; }
.verdict { font-size: 1.05rem; }
.table { overflow-x: auto; margin: 0.6rem 0 1rem; }
table { border-collapse: collapse; font-size: 0.9rem; min-width: 60%; }
caption { text-align: left; color: var(--muted); font-size: 0.85rem; padding-bottom: 0.3rem; caption-side: top; }
th, td { border-bottom: 1px solid var(--line); padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.highlight td { font-weight: 600; background: #f0f7f0; }
figure { margin: 1rem 0 1.5rem; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 0.88rem; margin-top: 0.3rem; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: 0.6rem; font-size: 0.85rem; overflow-wrap: anywhere; }
nav ol { columns: 2 14rem; padding-left: 1.2rem; margin: 0.5rem 0; }
@media print {
  body { font-size: 10.5pt; padding: 0; }
  nav { display: none; }
  h2 { break-after: avoid; }
  figure, table, .warning, .note { break-inside: avoid; }
  .table { overflow: visible; }
  a { color: inherit; text-decoration: none; }
}
"""

_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def render(document: Document, figures: Mapping[str, bytes]) -> str:
    """The HTML page; `figures`: stem -> PNG bytes (a figure without them is left out)."""
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(document.title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>", "<main>",
             f"<h1>{escape(document.title)}</h1>", f'<p class="subtitle">{escape(document.subtitle)}</p>']
    if document.status:
        parts.append(f'<p><span class="status {document.status}">{document.status.upper()}</span></p>')
    parts.append("<nav><ol>" + "".join(f'<li><a href="#{s.id}">{escape(s.title)}</a></li>'
                                        for s in document.sections) + "</ol></nav>")
    for section in document.sections:
        parts.append(_section(section, figures))
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _section(section: Section, figures: Mapping[str, bytes]) -> str:
    out = [f'<section id="{escape(section.id)}">', f"<h2>{escape(section.title)}</h2>"]
    for block in section.blocks:
        if isinstance(block, Paragraph):
            if block.kind.startswith("verdict-"):
                status = block.kind.removeprefix("verdict-")
                out.append(f'<p class="verdict"><span class="status {status}">{status.upper()}</span> '
                           f"{escape(block.text)}</p>")
            else:
                kind = f' class="{block.kind}"' if block.kind in ("warning", "note") else ""
                label = {"warning": "<strong>Warning:</strong> ", "note": "<strong>Note:</strong> "}.get(block.kind, "")
                out.append(f"<p{kind}>{label}{escape(block.text)}</p>")
        elif isinstance(block, Bullets):
            out.append("<ul>" + "".join(f"<li>{escape(item)}</li>" for item in block.items) + "</ul>")
        elif isinstance(block, Table):
            out.append(_table(block))
        elif isinstance(block, FigureBlock):
            png = figures.get(block.stem)
            if png is None:
                continue
            data = base64.b64encode(png).decode("ascii")
            out.append(f'<figure id="figure-{escape(block.stem)}"><img src="data:image/png;base64,{data}" '
                       f'alt="{escape(block.alt)}"><figcaption>{escape(block.caption)} '
                       f"(files: figures/{escape(block.stem)}.png, .pdf)</figcaption></figure>")
        elif isinstance(block, Code):
            out.append(f"<pre>{escape(block.text)}</pre>")
    out.append("</section>")
    return "\n".join(out)


def _table(table: Table) -> str:
    numeric = table.numeric or (False,) * len(table.headers)
    rows = []
    for i, cells in enumerate(table.rows):
        tds = "".join(f'<td class="num">{escape(c)}</td>' if numeric[j] else f"<td>{escape(c)}</td>"
                      for j, c in enumerate(cells))
        rows.append(f'<tr class="highlight">{tds}</tr>' if i in table.highlight else f"<tr>{tds}</tr>")
    caption = f"<caption>{escape(table.caption)}</caption>" if table.caption else ""
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    return f'<div class="table"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
