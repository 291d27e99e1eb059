"""A report as plain blocks, rendered twice: as Markdown (report.md, `verdict --markdown`) and as
self-contained HTML (report.html). What a section says is written once, whatever the format;
the renderers only choose the markup."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Paragraph:
    text: str
    kind: str = "text"  # text | warning | note | verdict-pass | verdict-fail | verdict-undetermined


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str | None = None
    numeric: tuple[bool, ...] = ()  # per column: right-aligned
    highlight: frozenset[int] = frozenset()  # rows to emphasise (the selected model)


@dataclass(frozen=True)
class FigureBlock:
    stem: str  # figures/<stem>.png and .pdf
    caption: str
    alt: str


@dataclass(frozen=True)
class Code:
    text: str  # shown as written (the methods paragraph, a project-file diff)


Block = Paragraph | Bullets | Table | FigureBlock | Code


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> Section:
        self.blocks.extend(blocks)
        return self


@dataclass
class Document:
    title: str
    subtitle: str
    status: str | None  # pass | fail | undetermined (None: no verdict)
    sections: list[Section] = field(default_factory=list)

    def figures(self) -> list[FigureBlock]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, FigureBlock)]
