"""Small simulated catalogues for `mlproj init` and for tests (paper §2.4: test the pipeline on
data from a simulation before trusting it on real data).

Both catalogues are toy models, not survey simulations, but they have the structure an
astronomer expects: magnitude-dependent photometric noise from a sky-limited flux error,
asinh magnitudes (as SDSS, so faint objects never become NaN), a stellar locus, UV-excess
quasars, galaxies whose colours follow a redshifted 4000 Å break, and galaxies that are
extended while stars and quasars are point sources. Everything is pure numpy, seeded and
deterministic: the same (n, seed) gives an identical frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BANDS = ("u", "g", "r", "i", "z")
# Effective wavelengths [Å] and widths (Gaussian σ) of the SDSS filters, for synthetic photometry.
_CENTRES = np.array([3551.0, 4686.0, 6166.0, 7480.0, 8932.0])
_WIDTHS = np.array([250.0, 550.0, 500.0, 550.0, 450.0])
# 5σ point-source depths: a survey somewhat deeper than SDSS for the star/galaxy catalogue,
# SDSS itself (u 22.0, g 22.2, r 22.2, i 21.3, z 20.5) for the photometric-redshift sample.
_DEPTH_DEEP = np.array([23.0, 24.3, 24.0, 23.4, 22.2])
_DEPTH_SDSS = np.array([22.0, 22.2, 22.2, 21.3, 20.5])
# Calibration floor of the magnitude errors (about 0.01 mag).
_CALIBRATION = 0.01
# SDSS asinh softening parameters b (Lupton, Gunn & Szalay 1999), per band.
_SOFTENING = np.array([1.4e-10, 0.9e-10, 1.2e-10, 1.8e-10, 7.4e-10])
_POGSON = 2.5 / np.log(10.0)

# The stellar locus in SDSS colours (after Covey et al. 2007), tabulated along g-r:
# blue halo turn-off stars around g-r ≈ 0.3, M dwarfs at g-r ≈ 1.4 with very red r-i.
_LOCUS_GR = np.array([-0.2, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.35, 1.5])
_LOCUS_UG = np.array([0.70, 0.80, 0.95, 1.20, 1.60, 2.00, 2.35, 2.55, 2.65, 2.70])
_LOCUS_RI = np.array([-0.15, -0.05, 0.05, 0.13, 0.22, 0.32, 0.45, 0.70, 1.10, 1.60])
_LOCUS_IZ = np.array([-0.10, -0.03, 0.02, 0.06, 0.10, 0.16, 0.24, 0.37, 0.55, 0.85])


def star_galaxy_catalogue(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Stars, galaxies and quasars (45% / 48% / 7%) with ugriz photometry and a morphology measure.

    Columns: u g r i z (asinh magnitudes), u_err … z_err, psf_minus_model (r_psf − r_model: about
    0 for point sources, positive for extended ones, noisier when faint) and class
    ('STAR', 'GALAXY', 'QSO'). Observed r lies between about 16 and 22.5. Faint compact galaxies
    look like stars and high-redshift quasars sit on the stellar locus, so a galaxy selection at
    1% contamination is learnable but not perfect.
    """
    n = _check_n(n)
    rng = np.random.default_rng(seed)
    counts = _split_counts(n, {"STAR": 0.45, "GALAXY": 0.48, "QSO": 0.07})
    labels = np.repeat(np.array(list(counts), dtype=object), list(counts.values()))
    rng.shuffle(labels)
    is_star, is_galaxy, is_qso = (labels == "STAR"), (labels == "GALAXY"), (labels == "QSO")

    # Number counts: flat-ish for stars at high latitude, steep for galaxies (dlogN/dm ≈ 0.35).
    r_true = np.empty(n)
    r_true[is_star] = _power_law_magnitudes(rng, is_star.sum(), 0.12, 16.0, 22.5)
    r_true[is_galaxy] = _power_law_magnitudes(rng, is_galaxy.sum(), 0.35, 16.0, 22.5)
    r_true[is_qso] = _power_law_magnitudes(rng, is_qso.sum(), 0.45, 17.0, 22.5)

    colours = np.empty((n, 4))  # u-g, g-r, r-i, i-z
    colours[is_star] = _star_colours(rng, r_true[is_star])
    colours[is_qso] = _qso_colours(rng, is_qso.sum())
    # Fainter galaxies are typically further away; the colours then follow the redshifted break.
    n_gal = int(is_galaxy.sum())
    z_gal = np.clip(0.12 * 10 ** (0.2 * (r_true[is_galaxy] - 18.0)) * rng.lognormal(0, 0.3, n_gal), 0.01, 1.2)
    kind = rng.beta(0.8, 0.8, n_gal)  # 0 = passive (red), 1 = star-forming (blue)
    colours[is_galaxy] = _adjacent_colours(_galaxy_magnitudes(z_gal, kind))
    colours[is_galaxy] += rng.normal(0.0, 0.04, (n_gal, 4))

    true_mags = _magnitudes_from_r(r_true, colours)
    mags, errors = _observe(rng, true_mags, _DEPTH_DEEP)

    # Morphology: r_psf − r_model. Point sources scatter around 0 with the photometric noise
    # (plus PSF-model mismatch); galaxies are extended by an amount that shrinks with distance,
    # so faint compact galaxies are hard to tell from stars. 10% of quasars show their host.
    extent = np.zeros(n)
    extent[is_galaxy] = rng.lognormal(np.log(0.9) - 0.28 * (r_true[is_galaxy] - 17.0), 0.55)
    hosts = is_qso & (rng.random(n) < 0.10)
    extent[hosts] = rng.uniform(0.03, 0.15, hosts.sum())
    morphology_noise = np.hypot(0.02, 1.6 * errors[:, 2])
    psf_minus_model = extent + rng.normal(0.0, 1.0, n) * morphology_noise

    frame = _frame(mags, errors)
    frame["psf_minus_model"] = np.round(psf_minus_model, 4)
    frame["class"] = labels.astype(str)
    return frame


def photoz_catalogue(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A magnitude-limited galaxy sample for photometric redshifts.

    Columns: z_spec (spectroscopic redshift, 0.01–0.6, skewed to low z as in a magnitude-limited
    sample), u g r i z (asinh magnitudes), u_err … z_err. Colours follow a toy spectrum with a
    4000 Å break that moves through g−r up to z ≈ 0.4 and then through r−i; galaxies range from
    passive to star-forming, which makes colour–redshift relations overlap. About 1.5% of the
    objects are catastrophic outliers, as in real training sets: their spectroscopic redshift
    is wrong (an emission line misidentified), so no photometric estimate can match it.
    """
    n = _check_n(n)
    rng = np.random.default_rng(seed)
    # Draw more than needed, apply the magnitude limit r < 21, keep the first n.
    z_list, r_list, k_list = [], [], []
    have = 0
    while have < n:
        m = max(2 * (n - have), 64)
        z = _smail_redshifts(rng, m, z0=0.2, zmax=0.6)
        kind = rng.beta(1.0, 1.3, m)
        absolute = rng.normal(-21.0 + 0.5 * kind, 1.0)  # passive galaxies are brighter
        r = absolute + _distance_modulus(z) + _k_correction_r(z, kind)
        keep = (r < 21.0) & (r > 14.0)
        z_list.append(z[keep])
        r_list.append(r[keep])
        k_list.append(kind[keep])
        have += int(keep.sum())
    z_spec = np.concatenate(z_list)[:n]
    r_true = np.concatenate(r_list)[:n]
    kind = np.concatenate(k_list)[:n]

    sed = _galaxy_magnitudes(z_spec, kind)
    colours = _adjacent_colours(sed)
    colours += rng.normal(0.0, 0.04, colours.shape)  # intrinsic variety beyond the toy model
    mags, errors = _observe(rng, _magnitudes_from_r(r_true, colours), _DEPTH_SDSS)

    # Catastrophic outliers: a wrong spectroscopic redshift from a misidentified emission line
    # (Hα at 6563 Å taken for [OIII] at 5007 Å, or the reverse); the photometry is right.
    outliers = rng.random(n) < 0.015
    up = (1.0 + z_spec) * (6563.0 / 5007.0) - 1.0
    down = np.maximum((1.0 + z_spec) * (5007.0 / 6563.0) - 1.0, 0.01)
    z_spec = np.where(outliers, np.where(up <= 0.6, up, down), z_spec)

    frame = pd.DataFrame({"z_spec": np.round(z_spec, 5)})
    return pd.concat([frame, _frame(mags, errors)], axis=1)


# ----------------------------------------------------------------------------- helpers


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 10:
        raise ValueError(f"n must be an integer of at least 10, got {n!r}")
    return int(n)


def _split_counts(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """Exact class counts (largest remainder), so that fractions do not depend on the seed."""
    raw = {k: n * f for k, f in fractions.items()}
    counts = {k: int(np.floor(v)) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: n - sum(counts.values())]:
        counts[k] += 1
    return counts


def _power_law_magnitudes(rng, n: int, slope: float, lo: float, hi: float) -> np.ndarray:
    """Magnitudes with dN/dm ∝ 10^(slope·m) between lo and hi (inverse-CDF sampling)."""
    a = slope * np.log(10.0)
    u = rng.random(n)
    return lo + np.log1p(u * np.expm1(a * (hi - lo))) / a


def _star_colours(rng, r: np.ndarray) -> np.ndarray:
    # High-latitude fields: blue halo turn-off stars dominate when faint, M dwarfs are the red peak.
    n = len(r)
    halo_fraction = np.clip(0.35 + 0.08 * (r - 18.0), 0.2, 0.8)
    halo = rng.random(n) < halo_fraction
    gr = np.where(halo, rng.normal(0.30, 0.10, n), rng.normal(1.0, 0.35, n))
    gr = np.clip(gr, -0.2, 1.5)
    out = np.column_stack([
        np.interp(gr, _LOCUS_GR, _LOCUS_UG) + rng.normal(0, 0.08, n),  # metallicity spread in u-g
        gr,
        np.interp(gr, _LOCUS_GR, _LOCUS_RI) + rng.normal(0, 0.04, n),
        np.interp(gr, _LOCUS_GR, _LOCUS_IZ) + rng.normal(0, 0.04, n),
    ])
    return out


def _qso_colours(rng, n: int) -> np.ndarray:
    # Low-redshift quasars show the UV excess (u-g ≈ 0.2); about 15% at z > 2.5 have the
    # Lyman-α forest in u and g and land near the stellar locus.
    out = np.column_stack([
        rng.normal(0.20, 0.15, n),
        rng.normal(0.15, 0.12, n),
        rng.normal(0.12, 0.12, n),
        rng.normal(0.05, 0.12, n),
    ])
    high_z = rng.random(n) < 0.15
    m = int(high_z.sum())
    out[high_z] = np.column_stack([
        rng.uniform(0.8, 2.5, m), rng.uniform(0.2, 0.9, m), rng.normal(0.15, 0.1, m), rng.normal(0.05, 0.1, m)
    ])
    return out


def _galaxy_magnitudes(z: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Synthetic ugriz magnitudes (arbitrary zero point) of a toy galaxy spectrum at redshift z.

    The rest-frame spectrum, in AB magnitudes, is a power law in f_ν whose slope and 4000 Å
    break depth go from passive (kind = 0: red, deep break) to star-forming (kind = 1: blue,
    shallow break), plus a UV turn-down for passive galaxies. Each band averages the redshifted
    spectrum over a Gaussian filter, so colours change smoothly and non-linearly with z.
    """
    z = np.asarray(z, dtype=float)[:, None, None]
    kind = np.asarray(kind, dtype=float)[:, None, None]
    offsets = np.linspace(-1.5, 1.5, 7)
    weights = np.exp(-0.5 * offsets**2)
    weights /= weights.sum()
    wavelength = _CENTRES[None, :, None] + _WIDTHS[None, :, None] * offsets[None, None, :]
    rest = wavelength / (1.0 + z)
    slope = 2.2 - 1.7 * kind  # f_ν ∝ λ^slope
    depth = 1.1 - 0.8 * kind  # break amplitude in magnitudes
    uv_drop = 0.6 * (1.0 - kind)
    mag = (
        -2.5 * slope * np.log10(rest / 5000.0)
        + depth / (1.0 + np.exp((rest - 4000.0) / 120.0))
        + uv_drop / (1.0 + np.exp((rest - 3000.0) / 200.0))
    )
    flux = np.sum(weights * 10 ** (-0.4 * mag), axis=2)
    return -2.5 * np.log10(flux)


def _k_correction_r(z: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """r-band K-correction of the toy spectrum (dimming of passive galaxies with redshift)."""
    m = _galaxy_magnitudes(z, kind)[:, 2]
    m0 = _galaxy_magnitudes(np.zeros_like(z), kind)[:, 2]
    return m - m0 - 2.5 * np.log10(1.0 + z)


def _distance_modulus(z: np.ndarray) -> np.ndarray:
    """Flat ΛCDM (H0 = 70, Ωm = 0.3) distance modulus by trapezoidal integration on a grid."""
    grid = np.linspace(0.0, 1.5, 1501)
    inv_e = 1.0 / np.sqrt(0.3 * (1 + grid) ** 3 + 0.7)
    comoving = np.concatenate([[0.0], np.cumsum(0.5 * (inv_e[1:] + inv_e[:-1]) * np.diff(grid))])
    d_l = (299792.458 / 70.0) * np.interp(z, grid, comoving) * (1.0 + z)  # Mpc
    return 5.0 * np.log10(np.maximum(d_l, 1e-3)) + 25.0


def _smail_redshifts(rng, n: int, z0: float, zmax: float) -> np.ndarray:
    """Redshifts with dN/dz ∝ z² exp(−(z/z0)^1.5) between 0.01 and zmax (inverse CDF on a grid)."""
    grid = np.linspace(0.01, zmax, 2000)
    pdf = grid**2 * np.exp(-((grid / z0) ** 1.5))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    return np.interp(rng.random(n) * cdf[-1], cdf, grid)


def _adjacent_colours(mags: np.ndarray) -> np.ndarray:
    """u-g, g-r, r-i, i-z from ugriz magnitudes."""
    return mags[:, :-1] - mags[:, 1:]


def _magnitudes_from_r(r: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """ugriz from r and the four adjacent colours u-g, g-r, r-i, i-z."""
    ug, gr, ri, iz = colours.T
    g = r + gr
    u = g + ug
    i = r - ri
    z = i - iz
    return np.column_stack([u, g, r, i, z])


def _observe(rng, true_mags: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add sky-limited flux noise and return asinh magnitudes and their 1σ errors.

    Flux error σ_f² = (0.01·f)² + σ_sky², with σ_sky set by the 5σ depth, so that
    σ_m ≈ 0.01 + 0.2·10^(0.4(m − m_5σ)) grows towards the faint end. As in SDSS catalogues the
    error column is computed from the observed (noisy) flux.
    """
    flux = 10 ** (-0.4 * true_mags)  # in units of the AB zero point (3631 Jy)
    sky = 10 ** (-0.4 * depth) / 5.0
    sigma = np.sqrt((_CALIBRATION / _POGSON * flux) ** 2 + sky**2)
    observed = flux + rng.normal(0.0, 1.0, flux.shape) * sigma
    b = _SOFTENING
    mags = -_POGSON * (np.arcsinh(observed / (2 * b)) + np.log(b))
    sigma_obs = np.sqrt((_CALIBRATION / _POGSON * np.abs(observed)) ** 2 + sky**2)
    errors = _POGSON * sigma_obs / np.sqrt(observed**2 + (2 * b) ** 2)
    return mags, errors


def _frame(mags: np.ndarray, errors: np.ndarray) -> pd.DataFrame:
    data = {band: np.round(mags[:, j], 4) for j, band in enumerate(BANDS)}
    data.update({f"{band}_err": np.round(errors[:, j], 4) for j, band in enumerate(BANDS)})
    return pd.DataFrame(data)
