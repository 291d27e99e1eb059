"""Drawing the interrogation's figures (sensitivity curves, the metric in bins) in the style of
mlproj.report.figures: the same palette, sizes and axes; matplotlib is imported only when drawn."""

from __future__ import annotations

import numpy as np

from mlproj.report.figures import COLUMN, OKABE_ITO, REFERENCE, _figure, _legend, _style
from mlproj.report.interrogation import BinsData, SensitivityData

CURVE_COLOURS = (OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["green"])
STATE_COLOURS = {"reached": OKABE_ITO["green"], "not_reached": OKABE_ITO["vermillion"],
                 "undetermined": OKABE_ITO["orange"]}
STATE_LABELS = {"reached": "finish line reached", "not_reached": "not reached", "undetermined": "undetermined"}


def _values(items) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in items], dtype=float)


def draw_sensitivity(data: SensitivityData):
    """The prediction against the varied feature, one line per value of the second feature."""
    fig = _figure(COLUMN, 2.6)
    ax = fig.add_subplot()
    _style(ax)
    x = _values(data.values)
    for k, (curve, label) in enumerate(zip(data.curves, data.labels)):
        ax.plot(x, _values(curve), color=CURVE_COLOURS[k % len(CURVE_COLOURS)], lw=1.4,
                ls=("-", "--", ":")[k % 3], label=label or None)
    if data.probability:
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(data.feature)
    ax.set_ylabel(data.quantity)
    if any(data.labels):
        _legend(ax, loc="best")
    return fig


def draw_bins(data: BinsData):
    """The metric per bin (its interval as a vertical bar across the bin), the finish line and its
    margin, coloured by the finish line's state in the bin."""
    fig = _figure(COLUMN, 2.7)
    ax = fig.add_subplot()
    _style(ax)
    low, high, value = _values(data.low), _values(data.high), _values(data.value)
    lo, hi = _values(data.interval_low), _values(data.interval_high)
    centre = (low + high) / 2
    if data.margin:
        boundary = data.threshold - data.margin if data.greater_is_better else data.threshold + data.margin
        ax.axhspan(min(boundary, data.threshold), max(boundary, data.threshold), color="#E8E8E8", lw=0, zorder=0)
    ax.axhline(data.threshold, color=REFERENCE, ls="--", lw=0.9, zorder=1, label=f"finish line {data.threshold:g}")
    seen = set()
    for i, state in enumerate(data.state):
        colour = STATE_COLOURS.get(state, OKABE_ITO["grey"])
        label = STATE_LABELS.get(state) if state not in seen else None
        seen.add(state)
        if np.isfinite(low[i]) and np.isfinite(high[i]) and np.isfinite(value[i]):
            ax.plot([low[i], high[i]], [value[i], value[i]], color=colour, lw=1.0, zorder=2)
        if np.isfinite(lo[i]) and np.isfinite(hi[i]):
            ax.plot([centre[i], centre[i]], [lo[i], hi[i]], color=colour, lw=1.6, zorder=3)
        if np.isfinite(value[i]):
            ax.plot([centre[i]], [value[i]], ls="none", marker="o", ms=4, color=colour, zorder=4, label=label)
    if data.met_up_to is not None:
        ax.axvline(data.met_up_to, color=OKABE_ITO["grey"], ls=":", lw=0.9, zorder=1,
                   label=f"met up to {data.met_up_to:.4g}")
    ax.set_xlabel(data.feature)
    ax.set_ylabel(f"{data.metric} ({'higher' if data.greater_is_better else 'lower'} is better)")
    _legend(ax, loc="best")
    return fig
