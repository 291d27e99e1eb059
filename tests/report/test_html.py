"""Tests of mlproj.report.html: one self-contained page, nothing fetched, project text escaped."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

from mlproj.report import html
from mlproj.report.document import Bullets, Code, Document, FigureBlock, Paragraph, Section, Table

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls, self.tags, self.meta = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        self.urls += [attrs[a] for a in ("src", "href") if a in attrs]
        if tag == "meta":
            self.meta.append(attrs)


def document(name: str = "galaxy") -> Document:
    return Document(f"{name}: FAIL", "Run r", "fail", [
        Section("data", "Data", [Paragraph(f"class {name}"), Bullets(("a < b",)), Code("x & y"),
                                 Table(("model", "score"), (("hgb", "0.9"),), numeric=(False, True)),
                                 FigureBlock("roc", "ROC", "the ROC curve"), FigureBlock("missing", "gone", "gone")]),
        Section("verdict", "Verdict", [Paragraph("finish line not reached", "verdict-fail"),
                                       Paragraph("few objects", "warning")])])


def test_the_page_is_self_contained():
    page = html.render(document(), {"roc": PNG})
    links = Links()
    links.feed(page)
    assert all(url.startswith(("data:image/png;base64,", "#")) for url in links.urls), links.urls
    assert "script" not in links.tags and "link" not in links.tags
    policy = next(m["content"] for m in links.meta if m.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in policy and "img-src data:" in policy
    assert any(m.get("name") == "viewport" for m in links.meta)
    assert "@media print" in page
    assert base64.b64encode(PNG).decode() in page
    assert 'id="figure-missing"' not in page  # a figure that was not made is left out, not a broken image


def test_project_text_is_escaped():
    page = html.render(document("<script>alert(1)</script>"), {})
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "a &lt; b" in page and "x &amp; y" in page


def test_the_status_and_the_warnings_are_marked():
    page = html.render(document(), {"roc": PNG})
    assert '<span class="status fail">FAIL</span>' in page and 'class="warning"' in page
    assert '<td class="num">0.9</td>' in page
