"""Tests of mlproj.science.numbers: printed digits are honest (issue 22, point 14).

A printed number rounds back to within half a unit of its last digit, keeps its trailing zeros,
takes the decimals of the neighbours it is compared with, and a probability is never shown as a
certainty (exactly 0 or 1) that it is not.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from mlproj.analyse.types import fmt_number
from mlproj.science.numbers import (
    decimals_for,
    fixed,
    general,
    interval,
    like,
    probability,
    significant,
    significant_interval,
)

NUMBER = re.compile(r"^-?\d+(\.\d+)?(e[+-]\d+)?$")
values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
uncertainties = st.floats(min_value=1e-9, max_value=1e5, allow_nan=False, allow_infinity=False)


def shown_decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def unit(text: str) -> Decimal:
    """One unit of the last digit shown: 0.001 for "0.740", 1 for "12", 100 for "1.2e+03"."""
    mantissa, _, exponent = text.partition("e")
    return Decimal(1).scaleb(-shown_decimals(mantissa) + (int(exponent) if exponent else 0))


def rounds_back(text: str, value: float) -> bool:
    """Within half a unit of the last digit shown (plus the float's own representation error)."""
    assert NUMBER.match(text), text
    error = abs(Decimal(text) - Decimal(value))
    return error <= unit(text) / 2 + Decimal(abs(value)) * Decimal(1e-15)


# --------------------------------------------------------------------------- the examples of the issue

def test_a_value_beside_a_mean_and_se_gets_their_decimals():
    assert significant(0.03315, 0.00087) == "0.03315 ± 0.00087"
    shown = like(0.029995, 0.00087)
    assert shown != "0.03" and shown_decimals(shown) == 5 and rounds_back(shown, 0.029995)
    assert fmt_number(0.029995) == "0.03000"  # 4 significant digits are 4 digits, zeros included


def test_wilson_bounds_keep_their_trailing_zeros():
    assert interval(0.74, 0.792) == "[0.740, 0.792]"
    assert interval(0.0106, 0.0271) == "[0.0106, 0.0271]"
    low, high = binomtest(17, 17).proportion_ci(0.95, method="wilson")
    assert interval(low, high) == f"[{low:.3f}, 1.000]" == "[0.816, 1.000]"
    assert significant_interval(0.9, 1.0, 0.0) == "[0.900, 1.000]"  # no SE: the interval's own width sets the place


def test_a_probability_is_never_rounded_to_a_certainty():
    assert probability(0.99998) == "> 0.999"
    assert probability(0.00001) == "< 0.001"
    assert probability(1.0) == "1" and probability(0.0) == "0"
    assert probability(0.9994) == "0.999" and probability(0.95) == "0.950" and probability(0.0123) == "0.012"
    assert probability(0.996, 2) == "> 0.99"
    assert probability(math.nan) == "nan"


def test_general_keeps_the_digits_it_claims():
    assert general(0.03) == "0.03000" and general(1.0) == "1.000" and general(1234.0) == "1234"
    assert general(123456.0) == "1.235e+05" and general(-0.0) == "0.000" and general(math.inf) == "inf"
    assert fmt_number(None) == "—" and fmt_number(0.5, 3) == "0.500"


# --------------------------------------------------------------------------- properties

@settings(max_examples=400, deadline=None)
@given(values, uncertainties)
def test_significant_and_like_round_back_and_agree(value, uncertainty):
    text = significant(value, uncertainty)
    shown, _, error = text.partition(" ± ")
    assert rounds_back(shown, value) and rounds_back(error, uncertainty)
    assert shown_decimals(shown) == shown_decimals(error) == decimals_for(uncertainty) >= 0
    assert like(value, uncertainty) == shown  # the neighbour rule: the same decimals as a mean ± SE
    # Two significant digits of the uncertainty, the carry included (0.0996 -> 0.10).
    assert 10 <= Decimal(error) / unit(error) < 100 or (Decimal(error) >= 100 and "." not in error)


@settings(max_examples=400, deadline=None)
@given(values, values)
def test_an_interval_prints_both_ends_to_one_place_that_rounds_back(a, b):
    low, high = min(a, b), max(a, b)
    text = interval(low, high)
    match = re.fullmatch(r"\[(\S+), (\S+)\]", text)
    assert match, text
    left, right = match.groups()
    assert rounds_back(left, low) and rounds_back(right, high)
    if high > low:
        assert shown_decimals(left) == shown_decimals(right)  # trailing zeros kept


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=1, max_value=100_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_intervals_print_to_one_place(counts):
    k, n = counts
    low, high = binomtest(k, n).proportion_ci(0.95, method="wilson")
    left, right = re.fullmatch(r"\[(\S+), (\S+)\]", interval(low, high)).groups()
    assert shown_decimals(left) == shown_decimals(right) >= 1
    assert rounds_back(left, low) and rounds_back(right, high)


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.floats(min_value=0, max_value=1), st.floats(min_value=0.99, max_value=1),
                 st.floats(min_value=0, max_value=0.01), st.sampled_from([0.0, 1.0, 0.9995, 0.0005, 1 - 1e-12])),
       st.integers(min_value=1, max_value=4))
def test_a_probability_is_shown_as_0_or_1_only_when_it_is(p, decimals):
    text = probability(p, decimals)
    if text in ("0", "1"):
        assert p == float(text)
    elif text.startswith("> "):
        assert p > float(text[2:]) and p < 1 and text[2:] == fixed(1 - 10.0 ** -decimals, decimals)
    elif text.startswith("< "):
        assert 0 < p < float(text[2:])
    else:
        assert 0 < float(text) < 1 and shown_decimals(text) == decimals and rounds_back(text, p)


@settings(max_examples=300, deadline=None)
@given(values, st.integers(min_value=1, max_value=6))
def test_general_rounds_back(value, digits):
    assume(value != 0)
    text = general(value, digits)
    assert rounds_back(text, value)
    mantissa = text.split("e")[0].lstrip("-").replace(".", "").lstrip("0")
    assert len(mantissa) == digits or ("." not in text and len(mantissa) >= digits)


@pytest.mark.parametrize("value, uncertainty, expected", [
    (0.912345, 0.011, "0.912 ± 0.011"), (0.1, 0.0996, "0.10 ± 0.10"), (1234.5, 56.0, "1234 ± 56"),
    (12345.0, 678.0, "12345 ± 678"), (math.nan, 0.1, "nan"), (0.5, 0.0, "0.5000"), (0.5, math.nan, "0.5000"),
])
def test_significant_examples(value, uncertainty, expected):
    assert significant(value, uncertainty) == expected
