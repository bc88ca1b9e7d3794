"""Student's t 0.975 quantile: the multiplier of the 95% intervals in :mod:`reportgen.words`.

This module owns :func:`t975`, numpy and :mod:`math` only, exact to float64 (relative error
well under 1e-12 against ``scipy.special.stdtrit(df, 0.975)``, which the tests check).
"""

from __future__ import annotations

import math

import numpy as np

# Closed forms: df = 1 is tan(0.475 pi); df = 2 is (2p - 1) sqrt(2 / (4p(1 - p))) at p = 0.975.
_DF1 = 12.706204736174707
_DF2 = 0.95 * math.sqrt(2.0 / 0.0975)
_Z = 1.959963984540054  # the normal 0.975 quantile: the limit for large df
# Stirling's series for lgamma: B_2k / (2k (2k - 1)), k = 1..7.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)


def t975(df: np.ndarray) -> np.ndarray:
    """``t`` with P(T <= t) = 0.975 for Student's T with ``df`` (>= 1) degrees of freedom.

    Each distinct df is solved once: the interval's dfs repeat a lot (one per word's text count).
    """
    df = np.asarray(df, dtype=np.float64)
    nu, inverse = np.unique(df, return_inverse=True)
    if nu.size and not (nu[0] >= 1 and np.isfinite(nu[-1])):
        raise ValueError("degrees of freedom must be finite and at least 1")
    t = np.empty_like(nu)
    t[nu == 1], t[nu == 2] = _DF1, _DF2
    rest = (nu != 1) & (nu != 2)
    t[rest] = _solve(nu[rest])
    return t[inverse].reshape(df.shape)


def _solve(nu: np.ndarray) -> np.ndarray:
    # Halley's method on P(|T| <= t) = 0.95 from the Cornish-Fisher start (A&S 26.7.5): the
    # start is within 0.13% at df = 3 and far closer above, so two steps reach float64 and a
    # third confirms it.
    if nu.size == 0:
        return nu
    z2 = _Z * _Z
    g = (
        (z2 + 1) / 4,
        ((5 * z2 + 16) * z2 + 3) / 96,
        (((3 * z2 + 19) * z2 + 17) * z2 - 15) / 384,
        ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / 92160,
    )
    t = _Z * (1 + g[0] / nu + g[1] / nu**2 + g[2] / nu**3 + g[3] / nu**4)
    a = nu / 2
    log_ratio = _log_gamma_ratio(a)  # log Gamma(a + 1/2) / Gamma(a), shared by every step
    # Each df stops on its own, so that its value does not depend on the others in the array.
    done = np.zeros(nu.shape, dtype=bool)
    for _ in range(20):
        u = t * t / nu
        # The density of |T| at t, its log written with log1p so that large df keep every digit.
        density = 2 * np.exp(log_ratio - 0.5 * np.log(nu * math.pi) - (a + 0.5) * np.log1p(u))
        miss = _central(t, nu, a, log_ratio, u) - 0.95
        slope_change = -(nu + 1) * t / (nu + t * t)  # density' / density
        step = miss / density / (1 - 0.5 * miss / density * slope_change)
        t = np.where(done, t, t - step)
        done |= np.abs(step) <= 1e-12 * t  # Halley cubes the error: this step was the last needed
        if done.all():
            break
    return t


def _central(
    t: np.ndarray, nu: np.ndarray, a: np.ndarray, log_ratio: np.ndarray, u: np.ndarray
) -> np.ndarray:
    # P(|T| <= t) = I_y(1/2, a) with y = t^2 / (nu + t^2), by the hypergeometric series (DLMF
    # 8.17.8) rather than a continued fraction: its terms are all positive (no cancellation) and
    # their ratio tends to y (about 3.84 / nu for large nu), so the sum is quick for large df where
    # the continued fraction needs ~sqrt(df) steps; df >= 3 keeps y <= 0.77 at the root.
    y = u / (1 + u)
    # y^(1/2) (1 - y)^a / ((1/2) B(1/2, a)), its log with 1 - y = 1 / (1 + u).
    log_scale = np.log(t) - 0.5 * np.log(nu + t * t) - a * np.log1p(u) + log_ratio
    scale = np.exp(log_scale + math.log(2 / math.sqrt(math.pi)))
    term = np.ones_like(y)
    total = np.ones_like(y)
    for n in range(100_000):
        term = term * ((a + 0.5 + n) / (1.5 + n) * y)
        total = total + term
        if n % 8 == 7 and np.all(term <= 1e-17 * total):
            break
    return scale * total


def _log_gamma_ratio(a: np.ndarray) -> np.ndarray:
    # log Gamma(a + 1/2) - log Gamma(a). Two lgamma calls would lose digits for large a (each is
    # ~a log a with an absolute error of a few ulps of that: 1e-9 at df = 10^6), so above a = 10
    # Stirling's series is differenced term by term; below, math.gamma's ratio is exact enough.
    out = np.empty_like(a)
    small = a < 10
    out[small] = [math.log(math.gamma(v + 0.5) / math.gamma(v)) for v in a[small]]
    big = a[~small]
    series = sum(c * ((big + 0.5) ** -(2 * k + 1) - big ** -(2 * k + 1))
                 for k, c in enumerate(_STIRLING))
    out[~small] = 0.5 * np.log(big) + (big * np.log1p(0.5 / big) - 0.5) + series
    return out
