"""Numbers as a scientist writes them: as many digits as the uncertainty supports, and no more
or fewer than the neighbours they are compared with.

Every printed number rounds back to within half a unit of its last digit; trailing zeros are
kept, because they are digits ("[0.740, 0.792]", not "[0.74, 0.792]"); a value printed beside a
mean ± SE takes the decimals of that SE ("0.03000" beside "0.03315 ± 0.00087", not "0.03"); and
a probability is never shown as exactly 0 or 1 unless it is ("> 0.999", "< 0.001").

Pure Python (no numpy) so that `mlproj verdict` can print a stored run without heavy imports.
"""

from __future__ import annotations

import math

__all__ = ["decimals_for", "fixed", "general", "interval", "is_probability", "like", "probability", "significant",
           "significant_interval"]


def decimals_for(uncertainty: float, digits: int = 2) -> int | None:
    """Decimal places that `digits` significant digits of the uncertainty call for; None for an
    uncertainty of zero or not finite, which sets no place.

    Never fewer than 0: rounding 12345 ± 678 to the tens would print "12340 ± 680", whose zeros
    read as digits that were measured; "12345 ± 678" shows a digit too many, never a wrong one.
    """
    u = abs(uncertainty)
    if not math.isfinite(u) or u == 0:
        return None
    decimals = digits - 1 - math.floor(math.log10(u))
    # Rounding can carry into a new digit (0.0996 -> 0.10): recompute the place.
    return max(0, digits - 1 - math.floor(math.log10(round(u, decimals))))



def fixed(value: float, decimals: int) -> str:
    """`value` to `decimals` places, trailing zeros kept ("nan", "inf" as such)."""
    if not math.isfinite(value):
        return str(value)
    decimals = max(decimals, 0)
    return format(round(value, decimals) + 0.0, f".{decimals}f")   # + 0.0 drops "-0"



def general(value: float, digits: int = 4) -> str:
    """`digits` significant digits where nothing sets the place: "0.03000", not "0.03" (the
    zeros are digits), "1234", "1.235e+05"."""
    if not math.isfinite(value):
        return str(value)
    text = format(value + 0.0, f"#.{digits}g").replace(".e", "e")  # "#" keeps a bare point: "1.e+01"
    return text[:-1] if text.endswith(".") else text


def significant(value: float, uncertainty: float, digits: int = 2) -> str:
    """'0.912 ± 0.011': the uncertainty sets the number of digits worth printing."""
    if not math.isfinite(value):
        return str(value)           # "nan", "inf", "-inf"
    decimals = decimals_for(uncertainty, digits)
    if decimals is None:
        return general(value)
    return f"{fixed(value, decimals)} \u00b1 {fixed(abs(uncertainty), decimals)}"


def like(value: float, uncertainty: float, digits: int = 2) -> str:
    """`value` alone, to the decimals `significant` gives a neighbour with this uncertainty: a
    test score beside the cross-validated "0.03315 ± 0.00087" is "0.02999", not "0.03"."""
    if not math.isfinite(value):
        return str(value)
    decimals = decimals_for(uncertainty, digits)
    return general(value) if decimals is None else fixed(value, decimals)


def significant_interval(low: float, high: float, uncertainty: float, digits: int = 2) -> str:
    """'[0.890, 0.934]': an interval printed to the same decimal place as its value's uncertainty
    (its own width sets the place when the uncertainty does not)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "\u2014"
    decimals = decimals_for(uncertainty, digits)
    if decimals is None:
        return interval(low, high, digits)
    return f"[{fixed(low, decimals)}, {fixed(high, decimals)}]"


def interval(low: float, high: float, digits: int = 2) -> str:
    """'[0.740, 0.792]': an interval alone (a Wilson or bootstrap interval), both ends to the
    place that `digits` significant digits of its half-width call for, trailing zeros kept."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "\u2014"
    decimals = decimals_for((high - low) / 2.0, digits)
    if decimals is None:
        return f"[{general(low)}, {general(high)}]"
    return f"[{fixed(low, decimals)}, {fixed(high, decimals)}]"


def probability(p: float, decimals: int = 3) -> str:
    """A probability to `decimals` places, never rounded to a certainty it is not: 0.99998 is
    "> 0.999" and 0.00001 "< 0.001"; only exactly 1 and 0 print as "1" and "0"."""
    if not math.isfinite(p):
        return str(p)
    if p >= 1:
        return "1"
    if p <= 0:
        return "0"
    step = 10.0 ** -decimals
    shown = fixed(p, decimals)
    if float(shown) >= 1:
        return f"> {fixed(1 - step, decimals)}"
    if float(shown) <= 0:
        return f"< {fixed(step, decimals)}"
    return shown


def is_probability(p: float, decimals: int = 3) -> str:
    """`probability` after its relation, for "P(better) = 0.973" and "P(better) > 0.999"."""
    shown = probability(p, decimals)
    return shown if shown.startswith(("<", ">")) else f"= {shown}"
