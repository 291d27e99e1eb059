"""Drawing and saving the figures of the report, in one place with one style.

Each ``draw_*`` function takes a data object of ``mlproj.report.figure_data`` and returns a
``matplotlib.figure.Figure`` built with the object API (no pyplot, no global state, no rcParams
changed: every size and colour is passed explicitly); ``save`` writes it as PNG and PDF.

matplotlib is imported here only, and nothing imports this module at import time: ``mlproj verdict``
stays fast. Style: the colour-blind-safe Okabe–Ito palette with a fixed colour per role, 8-pt text at
paper-column size, a light grid, no titles (captions are the report's), a legend where several things
are drawn.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import blended_transform_factory

from mlproj.report.figure_data import (
    ComparisonData,
    CornerData,
    CoverageData,
    CurveData,
    PitData,
    PredictedVsTrueData,
    ReliabilityData,
)

# Okabe & Ito (2008), colour-blind safe
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
             "grey": "#999999"}
ROLE_COLOURS = {"dummy": OKABE_ITO["grey"], "historical": OKABE_ITO["purple"], "baseline": OKABE_ITO["sky_blue"],
                "candidate": OKABE_ITO["blue"], "selected": OKABE_ITO["vermillion"]}
ROLE_LABELS = {"dummy": "dummy", "historical": "historical", "baseline": "standard baseline",
               "candidate": "candidate", "selected": "selected"}
CLASS_COLOURS = (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["green"], OKABE_ITO["vermillion"],
                 OKABE_ITO["purple"], OKABE_ITO["sky_blue"], OKABE_ITO["black"], OKABE_ITO["yellow"])
REFERENCE = OKABE_ITO["black"]  # 1:1 lines, nominal levels, the finish line
LINESTYLES = ("-", "--", ":", "-.")
FONT = 8  # pt: readable at a paper column's width
SMALL = 7
COLUMN = 3.4  # in: one column of a two-column journal
DPI = 150


def role_colour(role: str, selected: bool = False) -> str:
    return ROLE_COLOURS["selected" if selected else role]


def _figure(width: float = COLUMN, height: float = 2.9, *, left: float = 0.58, bottom: float = 0.45,
            right: float = 0.12, top: float = 0.1) -> Figure:
    """A figure with fixed margins in inches: no layout engine to solve at every save (it would cost
    more than the drawing), the same layout for the PNG and the PDF."""
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=left / width, bottom=bottom / height, right=1 - right / width, top=1 - top / height)
    return fig


LEGEND_ROW = 0.15  # in: one row of legend text


def _style(ax, grid: bool = True) -> None:
    ax.tick_params(which="both", labelsize=SMALL, direction="out", width=0.6)
    ax.tick_params(which="major", length=3)
    ax.tick_params(which="minor", length=1.8)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    for spine in ("left", "bottom"):
        ax.spines[spine].set_linewidth(0.6)
    ax.xaxis.label.set_size(FONT)
    ax.yaxis.label.set_size(FONT)
    if grid:
        ax.grid(True, color="#DDDDDD", linewidth=0.5)
        ax.set_axisbelow(True)


def _legend(ax, **kwargs):
    return ax.legend(fontsize=SMALL, frameon=False, handlelength=1.8, borderaxespad=0.3, **kwargs)


def _role_styles(items) -> list[tuple[str, str, float, int]]:
    """(colour, linestyle, linewidth, zorder) per model: colour by role, line style cycling within a role,
    the selected model solid, thick and on top."""
    seen: dict[str, int] = {}
    out = []
    for role, selected in items:
        if selected:
            out.append((ROLE_COLOURS["selected"], "-", 2.0, 5))
            continue
        i = seen.get(role, 0)
        seen[role] = i + 1
        out.append((ROLE_COLOURS[role], LINESTYLES[i % len(LINESTYLES)], 1.1, 3 if role == "candidate" else 2))
    return out


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}g}"


def _log_x(ax, decades: float) -> None:
    """A log x axis with labelled decades and minor ticks at 2 and 5, labelled only when the axis spans
    less than two decades (readable, and fast: tick labels are the slow part of a log axis)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(numticks=7))
    ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0), numticks=7))
    if decades >= 2:  # 10⁻³ in plain text: no mathtext to parse at every save
        ax.xaxis.set_major_formatter(FuncFormatter(_power_of_ten))
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:  # plain numbers, minor ticks too: 0.05 0.1 0.2 0.5
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, _=None) -> str:
    exponent = round(float(np.log10(value))) if value > 0 else 0
    if value <= 0 or not np.isclose(value, 10.0 ** exponent):
        return f"{value:g}"
    return "1" if exponent == 0 else "10" + str(exponent).translate(_SUPERSCRIPT)


# ---------------------------------------------------------------- 1. comparison chart

def draw_comparison(data: ComparisonData) -> Figure:
    """Mean ± corrected SE per model (thick bar), its interval (thin bar), the finish line and the margin
    band; the decision against the selected model beside each row, "n/a" for undefined values."""
    rows = data.rows
    n_legend = 4 if data.threshold is not None and data.margin else 3
    legend_rows = (n_legend + 1) // 2
    chars = 0.052  # in per character of 7-pt text
    fig = _figure(COLUMN + 0.4, 0.95 + 0.24 * max(1, len(rows)) + LEGEND_ROW * legend_rows,
                  left=0.2 + chars * max([len(r.name) for r in rows] + [3]),
                  right=0.15 + chars * max([len(r.decision) for r in rows] + [3]),
                  top=0.12 + LEGEND_ROW * legend_rows)
    ax = fig.add_subplot()
    _style(ax)
    ax.grid(False, axis="y")
    ys = np.arange(len(rows))[::-1]
    handles = []
    if data.threshold is not None and data.margin:
        ax.axvspan(data.threshold - data.margin, data.threshold + data.margin, color="#E8E8E8", lw=0, zorder=0)
        handles.append(Patch(color="#E8E8E8", label=f"margin ±{_fmt(data.margin, 2)}"))
    if data.threshold is not None:
        ax.axvline(data.threshold, color=REFERENCE, ls="--", lw=0.9, zorder=1)
        handles.append(Line2D([], [], color=REFERENCE, ls="--", lw=0.9, label=f"finish line {_fmt(data.threshold)}"))
    trans = blended_transform_factory(ax.transAxes, ax.transData)
    for y, row in zip(ys, rows):
        colour = role_colour(row.role, row.selected)
        _estimate_bar(ax, trans, y, row.mean, row.se, row.interval, colour, selected=row.selected)
    handles.append(Line2D([], [], color="#555555", lw=2.6, label="mean ± SE"))
    if any(r.interval is not None for r in rows):
        handles.append(Line2D([], [], color="#555555", lw=0.9, marker="|", ms=5, label=data.interval_label))
    ax.set_yticks(ys, [r.name for r in rows])
    for label, row in zip(ax.get_yticklabels(), rows):
        label.set_color(role_colour(row.role, row.selected))
        if row.selected:
            label.set_fontweight("bold")
    right = ax.secondary_yaxis("right")
    right.set_yticks(ys, [r.decision for r in rows])
    right.tick_params(labelsize=SMALL, length=0)
    right.spines["right"].set_visible(False)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(f"{data.metric_label} ({'higher' if data.greater_is_better else 'lower'} is better)")
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.995), ncol=2, fontsize=SMALL,
               frameon=False, handlelength=1.8, columnspacing=1.0, borderaxespad=0.2)
    return fig


# ---------------------------------------------------------------- 2-3. ROC, completeness-contamination

def _operating_box(ax, x: float | None, y: float | None, x_interval, y_interval, x_min: float, log_x: bool):
    if x is None or y is None:
        return []
    x0, x1 = x_interval
    if log_x:
        x0, x1, x = max(x0, x_min), max(x1, x_min), max(x, x_min)
    y0, y1 = y_interval
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=ROLE_COLOURS["selected"], alpha=0.18,
                           edgecolor=ROLE_COLOURS["selected"], lw=0.8, zorder=6))
    ax.plot([x], [y], marker="o", ms=5, color=REFERENCE, mfc="white", mew=1.0, zorder=7, ls="none")
    return [Line2D([], [], marker="o", ms=5, color=REFERENCE, mfc="white", mew=1.0, ls="none",
                   label="operating point"),
            Patch(facecolor=ROLE_COLOURS["selected"], alpha=0.3, edgecolor=ROLE_COLOURS["selected"],
                  label="Wilson box")]


def draw_curves(data: CurveData) -> Figure:
    """The ROC or completeness–contamination curves of the models, coloured by role, and the operating
    point with its Wilson box."""
    roc = data.kind == "roc"
    legend_rows = (len(data.curves) + int(roc) + (2 if data.operating_point is not None else 0) + 1) // 2
    fig = _figure(COLUMN, 2.7 + LEGEND_ROW * legend_rows, bottom=0.5 + LEGEND_ROW * legend_rows)
    ax = fig.add_subplot()
    _style(ax)
    styles = _role_styles([(c.role, c.selected) for c in data.curves])
    if roc:
        grid = np.logspace(np.log10(data.x_min), 0, 50) if data.log_x else np.array([0.0, 1.0])
        ax.plot(grid, grid, color="#BBBBBB", lw=0.7, ls=":", zorder=1, label="chance")
    for curve, (colour, ls, lw, z) in zip(data.curves, styles):
        label = curve.name
        if roc:
            label += f" (AUC {curve.area:.3f})" if curve.area is not None else " (AUC n/a)"
        elif not curve.defined:
            label += " (n/a)"
        if not curve.defined:
            ax.plot([], [], color=colour, ls=ls, lw=lw, label=label)
            continue
        x, y = (_on_log_axis(curve.x, curve.y, data.x_min) if data.log_x and roc else (curve.x, curve.y))
        if data.log_x:
            x = np.clip(x, data.x_min, 1)
        ax.plot(x, y, color=colour, ls=ls, lw=lw, zorder=z, label=label, marker="o" if x.size == 1 else None,
                ms=4)
    op = data.operating_point
    extra = []
    if op is not None:
        if roc:
            extra = _operating_box(ax, op.fpr, op.tpr, op.fpr_interval, op.tpr_interval, data.x_min, data.log_x)
        else:
            extra = _operating_box(ax, op.contamination, op.tpr, op.contamination_interval, op.tpr_interval,
                                   data.x_min, data.log_x)
    if data.log_x:
        _log_x(ax, -float(np.log10(data.x_min)))
        ax.set_xlim(data.x_min, 1)
    else:
        ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("false-positive rate" if roc else "contamination (1 − purity)")
    ax.set_ylabel("completeness (true-positive rate)")
    handles, _ = ax.get_legend_handles_labels()
    fig.legend(handles=handles + extra, loc="lower center", bbox_to_anchor=(0.5, 0.005), ncol=2, fontsize=SMALL,
               frameon=False, handlelength=1.8, columnspacing=1.0, borderaxespad=0.2)
    return fig


def _on_log_axis(x: np.ndarray, y: np.ndarray, x_min: float) -> tuple[np.ndarray, np.ndarray]:
    """A ROC curve's straight segments, drawn on a log FPR axis: points added along them."""
    grid = np.logspace(np.log10(x_min), 0, 120)
    xs = np.concatenate([x, grid])
    ys = np.concatenate([y, np.interp(grid, x, y)])
    order = np.argsort(xs, kind="stable")
    return xs[order], ys[order]


def draw_roc(data: CurveData) -> Figure:
    return draw_curves(data)


def draw_completeness_contamination(data: CurveData) -> Figure:
    return draw_curves(data)


# ---------------------------------------------------------------- 4. predicted vs true

def _points_look(n: int) -> tuple[float, float]:
    """(marker area in pt², alpha) that keep 100 to 20,000 drawn points readable."""
    n = max(n, 1)
    return float(np.clip(16 * np.sqrt(100 / n), 1.0, 12.0)), float(np.clip(15 / np.sqrt(n), 0.12, 0.8))


def draw_predicted_vs_true(data: PredictedVsTrueData) -> Figure:
    """Scatter (rasterized) of predicted against true values, the 1:1 line, the binned median and
    16–84% band, and the outlier bounds when given."""
    fig = _figure(COLUMN, COLUMN)
    ax = fig.add_subplot()
    _style(ax)
    lo, hi = data.limits
    size, alpha = _points_look(data.y.size)
    if data.y.size:
        label = "objects" if data.y.size == data.n_total else f"objects ({data.y.size:,} of {data.n_total:,})"
        ax.scatter(data.y, data.y_pred, s=size, alpha=alpha, color="#555555", lw=0, rasterized=True,
                   zorder=1, label=label)
    ax.plot([lo, hi], [lo, hi], color=REFERENCE, lw=0.8, zorder=3, label="1:1")
    if data.median.size:
        ax.fill_between(data.bin_centre, data.p16, data.p84, color=OKABE_ITO["blue"], alpha=0.25, lw=0, zorder=2,
                        label="16–84% of predictions")
        ax.plot(data.bin_centre, data.median, color=OKABE_ITO["blue"], lw=1.4, marker="o", ms=2.5, zorder=4,
                label="median prediction")
    if data.outlier_bound is not None:
        x, lower, upper = data.outlier_lines()
        form = f"|Δ|/(1+{_short(data.target_name)})" if data.relative else "|Δ|"
        frac = f": {100 * data.outlier_fraction:.1f}%" if data.outlier_fraction is not None else ""
        ax.plot(x, lower, color=OKABE_ITO["vermillion"], ls="--", lw=0.8, zorder=3,
                label=f"{form} = {data.outlier_bound:g}{frac} outside")
        ax.plot(x, upper, color=OKABE_ITO["vermillion"], ls="--", lw=0.8, zorder=3)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(f"true {data.target_name}")
    ax.set_ylabel(f"predicted {data.target_name}")
    _legend(ax, loc="upper left", markerscale=2)
    return fig


def _short(name: str) -> str:
    return {"redshift": "z"}.get(name, "y")


# ---------------------------------------------------------------- 5. PIT histogram

def draw_pit(data: PitData) -> Figure:
    """The PIT histogram as a density, the uniform line at 1 and its ±2σ binomial band."""
    fig = _figure(COLUMN, 2.5)
    ax = fig.add_subplot()
    _style(ax)
    edges = data.bin_edges
    ax.stairs(data.density, edges, fill=True, color=OKABE_ITO["blue"], alpha=0.3, lw=0, zorder=1, label="PIT")
    ax.stairs(data.band_high, edges, baseline=data.band_low, fill=True, color="#888888", alpha=0.3, lw=0, zorder=2,
              label=f"±2σ for {data.total:,} objects")
    ax.stairs(data.density, edges, color=OKABE_ITO["blue"], lw=0.9, zorder=3)
    ax.axhline(1.0, color=REFERENCE, lw=0.8, ls="--", zorder=4, label="uniform")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0, max(1.5, float(np.max(data.density, initial=0)) * 1.25, float(np.max(data.band_high)) * 1.2))
    ax.set_xlabel("probability integral transform (PIT)")
    ax.set_ylabel("density")
    _legend(ax, loc="upper center", ncol=3)
    return fig


# ---------------------------------------------------------------- 6. reliability diagram

def draw_reliability(data: ReliabilityData) -> Figure:
    """Observed fraction against mean predicted probability with Wilson intervals, the diagonal, ECE in the
    legend and, optionally, the counts per bin below."""
    fig = _figure(COLUMN, 3.3 if data.show_counts else 2.9)
    if data.show_counts:
        ax, hx = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [4, 1], "hspace": 0.08})
    else:
        ax, hx = fig.add_subplot(), None
    _style(ax)
    ax.plot([0, 1], [0, 1], color=REFERENCE, lw=0.8, ls="--", label="perfectly calibrated")
    label = data.label or "model"
    label += f" (ECE {data.ece:.3f})" if data.ece is not None else " (ECE n/a)"
    m, o = data.mean_predicted, data.observed_fraction
    if m.size:
        err = np.vstack([np.clip(o - data.interval_low, 0, None), np.clip(data.interval_high - o, 0, None)])
        ax.errorbar(m, o, yerr=err, color=OKABE_ITO["vermillion"], lw=1.2, marker="o", ms=3.5, capsize=1.5,
                    elinewidth=0.8, label=label, zorder=3)
    else:
        ax.plot([], [], color=OKABE_ITO["vermillion"], marker="o", label=label)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_ylabel("observed fraction")
    _legend(ax, loc="upper left")
    if hx is not None:
        _style(hx)
        if data.bin_edges is not None and data.bin_edges.size >= 2 and m.size:
            per_bin = np.zeros(data.bin_edges.size - 1)
            idx = np.clip(np.searchsorted(data.bin_edges, m, side="right") - 1, 0, per_bin.size - 1)
            np.add.at(per_bin, idx, data.counts)
            hx.stairs(per_bin, data.bin_edges, fill=True, color=OKABE_ITO["grey"], lw=0)
        elif m.size:
            hx.bar(m, data.counts, width=0.8 / max(m.size, 10), color=OKABE_ITO["grey"], lw=0)
        if m.size and data.counts.max() > 50 * max(data.counts.min(), 1):
            hx.set_yscale("log")
        hx.set_ylabel("objects")
        hx.set_xlabel("mean predicted probability")
    else:
        ax.set_xlabel("mean predicted probability")
    return fig


# ---------------------------------------------------------------- 7. coverage by predicted sigma

def draw_coverage(data: CoverageData) -> Figure:
    """The fraction of objects within 1σ and 1.96σ per bin of predicted σ with Wilson intervals, and the
    nominal 68.27% and 95% lines."""
    fig = _figure(COLUMN, 2.8)
    ax = fig.add_subplot()
    _style(ax)
    colours = (OKABE_ITO["blue"], OKABE_ITO["orange"])
    markers = ("o", "s")
    for i, (k, nominal) in enumerate(zip(data.levels, data.nominal)):
        ax.axhline(nominal, color=colours[i], lw=0.8, ls="--", zorder=1)
        if data.sigma_centre.size:
            f = data.fraction[i]
            err = np.vstack([np.clip(f - data.interval_low[i], 0, None), np.clip(data.interval_high[i] - f, 0, None)])
            ax.errorbar(data.sigma_centre, f, yerr=err, color=colours[i], marker=markers[i], ms=3.5, lw=1.1,
                        capsize=1.5, elinewidth=0.8, zorder=3,
                        label=f"|y − μ| ≤ {k:g}σ (nominal {100 * nominal:.2f}%)".replace(".00%", "%"))
    if data.log_x:
        _log_x(ax, float(np.log10(data.sigma_centre.max() / data.sigma_centre.min())))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("predicted σ")
    ax.set_ylabel("fraction of objects")
    _legend(ax, loc="lower right")
    return fig


# ---------------------------------------------------------------- 8. corner plot

def _class_colour(k: int) -> str:
    return CLASS_COLOURS[k % len(CLASS_COLOURS)]


def draw_corner(data: CornerData) -> Figure:
    """The features coloured by class with ``corner``: one ``corner.corner`` call per class drawn as
    density contours (large classes), points for small ones, a legend of the classes and their counts."""
    import corner

    p = len(data.feature_names)
    panel = 1.35 if p > 2 else 1.8
    dim = 0.75 + panel * p
    fig = Figure(figsize=(dim, dim))
    ranges = [list(r) for r in data.ranges]
    labels = list(data.feature_names)
    if not any(c.style == "contours" for c in data.classes):
        # no class for corner to lay the panels out: an invisible call over the shared ranges does
        frame = np.column_stack([np.linspace(lo, hi, max(p + 1, 3)) for lo, hi in data.ranges])
        corner.corner(frame, fig=fig, range=ranges, bins=data.bins, labels=labels, plot_datapoints=False,
                      plot_density=False, plot_contours=False, hist_kwargs={"alpha": 0.0}, max_n_ticks=3,
                      label_kwargs={"fontsize": FONT}, labelpad=0.05)
    peak = np.zeros(p)
    for k, cls in enumerate(data.classes):  # first the corner calls, which lay the panels out
        if cls.style == "contours" and len(cls.points):
            corner.corner(cls.points, fig=fig, range=ranges, bins=data.bins, color=_class_colour(k),
                          plot_datapoints=False, plot_density=False, plot_contours=True, no_fill_contours=True,
                          fill_contours=False, smooth=1.0, quiet=True, hist_kwargs={"density": True, "lw": 1.1},
                          contour_kwargs={"linewidths": 0.9}, max_n_ticks=3, labels=labels,
                          label_kwargs={"fontsize": FONT}, labelpad=0.05)
            peak = np.maximum(peak, cls.hist.max(axis=1))
    axes = np.array(fig.axes).reshape(p, p)
    handles = []
    for k, cls in enumerate(data.classes):
        colour = _class_colour(k)
        n_drawn = len(cls.points)
        note = f"{cls.n_total:,}" if n_drawn == cls.n_total else f"{cls.n_total:,}; {n_drawn:,} drawn"
        handles.append(Line2D([], [], color=colour, lw=1.5, marker="o" if cls.style == "points" else None, ms=3,
                              label=f"{cls.name} ({note})"))
        if cls.style == "contours" or n_drawn == 0:
            continue
        size, alpha = _points_look(n_drawn)
        for i in range(p):
            for j in range(i):
                axes[i, j].plot(cls.points[:, j], cls.points[:, i], ls="none", marker="o",
                                ms=max(1.5, np.sqrt(size)), alpha=max(alpha, 0.5), color=colour, mec="none",
                                rasterized=True, zorder=4)
            if n_drawn >= 10:
                axes[i, i].stairs(cls.hist[i], data.bin_edges(i), color=colour, lw=1.1)
                peak[i] = max(peak[i], cls.hist[i].max())
    for i in range(p):
        axes[i, i].set_xlim(*data.ranges[i])
        for j in range(i):
            axes[i, j].set_xlim(*data.ranges[j])
            axes[i, j].set_ylim(*data.ranges[i])
    for i in range(p):
        top = peak[i] * 1.1 if peak[i] > 0 else 1.0
        axes[i, i].set_ylim(0, top)
        # rug marks: classes too small for a histogram
        for k, cls in enumerate(data.classes):
            if cls.style == "points" and 0 < len(cls.points) < 10:
                axes[i, i].plot(cls.points[:, i], np.full(len(cls.points), 0.04 * top), ls="none", marker="|",
                                ms=8, mew=1.2, color=_class_colour(k), zorder=4)
    for i in range(p):
        for j in range(i + 1, p):
            axes[i, j].remove()  # the empty upper triangle: nothing to draw, and it costs at every save
    for ax in fig.axes:
        ax.tick_params(labelsize=SMALL - 1)
    fig.legend(handles=handles, fontsize=SMALL if p > 1 else SMALL - 1, frameon=False, loc="upper right",
               bbox_to_anchor=(0.98, 0.98),
               title="objects" if p > 1 else None, title_fontsize=SMALL)
    return fig


def _estimate_bar(ax, trans, y: float, value, se, interval, colour: str, *, selected: bool = False) -> None:
    """One row of a comparison-style chart: the interval as a thin line with end ticks, ± SE as a
    thick bar, the value as a marker (a diamond for the selected model); 'n/a' without a value."""
    if value is None:
        ax.text(0.02, y, "n/a", transform=trans, va="center", ha="left", fontsize=SMALL, color=colour)
        return
    if interval is not None:
        lo, hi = interval
        ax.plot([lo, hi], [y, y], color=colour, lw=0.9, solid_capstyle="butt", zorder=2)
        ax.plot([lo, hi], [y, y], ls="none", marker="|", ms=5, color=colour, mew=0.9, zorder=2)
    if se is not None:
        ax.plot([value - se, value + se], [y, y], color=colour, lw=3.2 if selected else 2.6, solid_capstyle="butt",
                zorder=3)
    ax.plot([value], [y], ls="none", marker="D" if selected else "o", ms=5.5 if selected else 4, color=colour,
            mec="white", mew=0.5, zorder=4)


# ---------------------------------------------------------------- saving

# ---------------------------------------------------------------- feature ablations

def draw_ablations(data) -> Figure:
    """Each ablation's difference from its full model (ablation − full, dot), its corrected SE
    (thick) and interval (thin), coloured by its decision; the ±margin band shaded around zero."""
    from mlproj.report.ablations import DECISION_COLOURS

    bars = data.bars
    chars = 0.058  # in per character of 7-pt text (labels such as "colours=median" have wide letters)
    fig = _figure(COLUMN + 0.4, 0.95 + 0.24 * max(1, len(bars)) + LEGEND_ROW * 2,
                  left=0.2 + chars * max([len(b.label) for b in bars] + [3]),
                  right=0.15 + chars * max([len(b.decision) for b in bars] + [3]), top=0.12 + LEGEND_ROW * 2)
    ax = fig.add_subplot()
    _style(ax)
    ax.grid(False, axis="y")
    ys = np.arange(len(bars))[::-1]
    handles = []
    if data.margin:
        ax.axvspan(-data.margin, data.margin, color="#E8E8E8", lw=0, zorder=0)
        handles.append(Patch(color="#E8E8E8", label=f"margin ±{_fmt(data.margin, 2)}"))
    ax.axvline(0.0, color=REFERENCE, ls="--", lw=0.9, zorder=1)
    handles.append(Line2D([], [], color=REFERENCE, ls="--", lw=0.9, label="full model"))
    trans = blended_transform_factory(ax.transAxes, ax.transData)
    for y, bar in zip(ys, bars):
        colour = DECISION_COLOURS.get(bar.decision, OKABE_ITO["grey"])
        _estimate_bar(ax, trans, y, bar.difference, bar.se, bar.interval, colour)
    handles.append(Line2D([], [], color="#555555", lw=2.6, label="difference ± SE"))
    if any(b.interval is not None for b in bars):
        handles.append(Line2D([], [], color="#555555", lw=0.9, marker="|", ms=5, label=data.interval_label))
    ax.set_yticks(ys, [b.label for b in bars])
    right = ax.secondary_yaxis("right")
    right.set_yticks(ys, [b.decision for b in bars])
    right.tick_params(labelsize=SMALL, length=0)
    right.spines["right"].set_visible(False)
    for label, bar in zip(right.get_yticklabels(), bars):
        label.set_color(DECISION_COLOURS.get(bar.decision, OKABE_ITO["grey"]))
    ax.set_ylim(-0.7, len(bars) - 0.3)
    ax.set_xlabel(f"{data.metric_label}: ablation − full model ({'higher' if data.greater_is_better else 'lower'} "
                  "is better)")
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.995), ncol=2, fontsize=SMALL,
               frameon=False, handlelength=1.8, columnspacing=1.0, borderaxespad=0.2)
    return fig


def to_bytes(fig: Figure) -> tuple[bytes, bytes]:
    """The figure as PNG (150 dpi) and PDF bytes, then freed. No creation dates in either: the same
    numbers give the same files."""
    out = []
    try:
        for fmt, metadata in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Producer": None})):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata, facecolor="white")
            out.append(buffer.getvalue())
    finally:
        fig.clear()
    return out[0], out[1]


DRAWERS = {"comparison": "draw_comparison", "roc": "draw_roc",
           "completeness_contamination": "draw_completeness_contamination",
           "predicted_vs_true": "draw_predicted_vs_true", "pit": "draw_pit", "reliability": "draw_reliability",
           "coverage": "draw_coverage", "corner": "draw_corner", "ablations": "draw_ablations",
           # drawn by other modules of mlproj.report (module:function)
           "sensitivity": "mlproj.report.interrogation_drawing:draw_sensitivity",
           "metric_bins": "mlproj.report.interrogation_drawing:draw_bins",
           "shift_histogram": "mlproj.report.shift_drawing:draw_histogram"}


def render(kind: str, data) -> tuple[bytes, bytes]:
    """Draw one figure of `kind` (a key of DRAWERS) from its data object, or from a
    figure_data.Deferred that computes it: (PNG, PDF) bytes. A plain function of picklable values,
    so a worker process can draw it."""
    from mlproj.report.figure_data import Deferred

    if isinstance(data, Deferred):
        data = data.compute()
    name = DRAWERS[kind]
    if ":" in name:
        import importlib

        module, _, name = name.partition(":")
        return to_bytes(getattr(importlib.import_module(module), name)(data))
    return to_bytes(globals()[name](data))


def save(fig: Figure, folder: Path, stem: str) -> list[Path]:
    """Write folder/stem.png (150 dpi) and folder/stem.pdf, each atomically; free the figure."""
    from mlproj.report.figure_files import write

    return write(folder, stem, *to_bytes(fig))
