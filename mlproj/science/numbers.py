"""Numbers as a scientist writes them: as many digits as the uncertainty supports.

Pure Python (no numpy) so that `mlproj verdict` can print a stored run without heavy imports.
"""

from __future__ import annotations

import math

__all__ = ["significant", "significant_interval"]


def _decimals(uncertainty: float, digits: int) -> int | None:
    """Decimal places that `digits` significant digits of the uncertainty call for."""
    u = abs(uncertainty)
    if not math.isfinite(u) or u == 0:
        return None
    decimals = digits - 1 - math.floor(math.log10(u))
    # Rounding can carry into a new digit (0.0996 -> 0.10): recompute the place.
    return digits - 1 - math.floor(math.log10(round(u, decimals)))


def _fixed(value: float, decimals: int) -> str:
    return format(round(value, decimals) + 0.0, f".{max(decimals, 0)}f")   # + 0.0 drops "-0"


def significant(value: float, uncertainty: float, digits: int = 2) -> str:
    """'0.912 ± 0.011': the uncertainty sets the number of digits worth printing."""
    if not math.isfinite(value):
        return str(value)           # "nan", "inf", "-inf"
    decimals = _decimals(uncertainty, digits)
    if decimals is None:
        return f"{value:.4g}"
    return f"{_fixed(value, decimals)} \u00b1 {_fixed(abs(uncertainty), decimals)}"


def significant_interval(low: float, high: float, uncertainty: float, digits: int = 2) -> str:
    """'[0.890, 0.934]': an interval printed to the same decimal place as its value's uncertainty."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "\u2014"
    decimals = _decimals(uncertainty, digits)
    if decimals is None:
        return f"[{low:.4g}, {high:.4g}]"
    return f"[{_fixed(low, decimals)}, {_fixed(high, decimals)}]"
