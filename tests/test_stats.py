"""The t quantile of the words' intervals against scipy's, an independent implementation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import stdtrit

from reportgen.stats import t975


def test_t975_matches_scipy_to_float64_precision() -> None:
    df = np.concatenate([np.arange(1, 3001), [5000, 10**4, 10**5, 10**6]]).astype(np.float64)
    np.testing.assert_allclose(t975(df), stdtrit(df, 0.975), rtol=1e-12, atol=0)
    # The two closed forms and the normal limit, spelled out.
    closed = t975(np.array([1.0, 2.0])).tolist()
    assert closed == pytest.approx([12.706204736174707, 4.302652729749464], rel=1e-15)
    assert 1.959963984540054 < t975(np.array([1e6]))[0] < 1.96


def test_repeated_dfs_give_the_elementwise_values_in_shape() -> None:
    rng = np.random.default_rng(3)
    df = rng.choice([1.0, 2.0, 3.0, 7.0, 40.0, 999.0, 123456.0], size=(50, 40))
    got = t975(df)
    assert got.shape == df.shape
    one_by_one = np.array([t975(np.array([v]))[0] for v in df.ravel()]).reshape(df.shape)
    np.testing.assert_array_equal(got, one_by_one)
    np.testing.assert_allclose(got, stdtrit(df, 0.975), rtol=1e-12, atol=0)
    assert t975(np.array([])).shape == (0,)


@pytest.mark.parametrize("bad", [0.0, 0.5, np.nan, np.inf])
def test_t975_refuses_degrees_of_freedom_below_one_or_not_finite(bad: float) -> None:
    with pytest.raises(ValueError):
        t975(np.array([3.0, bad]))
