"""Drawing the covariate-shift histograms in the style of mlproj.report.figures."""

from __future__ import annotations

import numpy as np

from mlproj.report.figures import COLUMN, OKABE_ITO, _figure, _legend, _style
from mlproj.report.shift import HistogramData


def draw_histogram(data: HistogramData):
    """Labelled (filled) and application (line) densities on common edges; the reweighted labelled
    sample dashed, when there is one."""
    fig = _figure(COLUMN, 2.5)
    ax = fig.add_subplot()
    _style(ax)
    edges = np.asarray(data.edges, dtype=float)
    ax.stairs(np.asarray(data.labelled, dtype=float), edges, fill=True, color=OKABE_ITO["sky_blue"], alpha=0.6,
              label="labelled")
    if data.application and data.name != "weight":
        ax.stairs(np.asarray(data.application, dtype=float), edges, color=OKABE_ITO["vermillion"], lw=1.4,
                  label="application")
    if data.weighted:
        ax.stairs(np.asarray(data.weighted, dtype=float), edges, color=OKABE_ITO["blue"], lw=1.2, ls="--",
                  label="labelled, weighted")
    ax.set_xlabel(data.name)
    ax.set_ylabel("density")
    _legend(ax, loc="best")
    return fig
