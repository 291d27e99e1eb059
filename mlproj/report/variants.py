"""The report's sections on model variants and nested searches (pure: Summary in, sections out).

"Model variants": each variant against its candidate on the same folds, decided with the margin
(paper §6.1: an equivalent simpler variant says the settings it drops are not needed).
"Nested search": the values each fold's inner search chose, and whether the folds agree.
"""

from __future__ import annotations

from mlproj.analyse.types import Summary
from mlproj.analyse.variants import STABLE_SHARE, choice_text, variant_comparisons
from mlproj.report.document import Paragraph, Section, Table
from mlproj.science.numbers import like, significant_interval


def variant_sections(summary: Summary) -> list[Section]:
    """The sections this run has material for (none without variants or searches)."""
    return [s for s in (variants_section(summary), search_section(summary)) if s is not None]


def variants_section(summary: Summary) -> Section | None:
    compared = variant_comparisons(summary)
    if not compared:
        return None
    several = len(summary.cases) > 1
    section = Section("variants", "Model variants")
    rows = []
    for item in compared:
        c = item.comparison
        changes = ", ".join(f"{k}={v}" for k, v in item.changes.items()) or "—"
        difference = "—" if c.n < 2 else like(c.difference, c.se) + " ± " + like(c.se, c.se)
        interval = "—" if c.n < 2 else significant_interval(c.interval[0], c.interval[1], c.se)
        rows.append(((f"{item.case}: " if several else "") + item.variant, item.parent, changes, difference,
                     interval, c.decision))
    margin = summary.cases[0].margin
    section.add(Table(("variant", "of", "changed parameters", "difference to it (± SE)",
                       f"{summary.confidence:.0%} interval", "decision"), tuple(rows),
                      caption="Each variant against its candidate, paired on the same folds (positive: the variant "
                              f"scores better, whichever way the metric improves; margin ±{margin:g}). "
                              "Equivalent: the changed settings are not needed; among equivalent models selection "
                              "prefers the simpler variant (DESIGN §6).",
                      numeric=(False, False, False, True, True, False)))
    return section


def search_section(summary: Summary) -> Section | None:
    if not summary.search:
        return None
    section = Section("search", "Nested search")
    section.add(Paragraph("Each fold's parameters were tuned on its training rows only (inner cross-validation, "
                          "the primary metric); its validation rows were predicted by the model refitted with "
                          "the chosen values, so the scores above stay honest."))
    for model, choices in summary.search.items():
        folds = [c for c in choices if c["fold"] >= 0]
        rows = tuple((str(c["repeat"]) if c["fold"] >= 0 else "—", str(c["fold"]) if c["fold"] >= 0 else "final fit",
                      choice_text(c["params"])) for c in choices)
        texts = [choice_text(c["params"]) for c in folds]
        common = max(set(texts), key=texts.count) if texts else None
        share = texts.count(common) / len(texts) if texts else 1.0
        note = (f"most common choice {common} in {texts.count(common)} of {len(texts)} folds"
                + (" (unstable)" if share < STABLE_SHARE else "")) if texts else ""
        section.add(Table(("repeat", "fold", "chosen values"), rows, caption=f"{model}: {note}",
                          numeric=(True, True, False)))
    return section
