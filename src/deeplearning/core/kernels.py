"""Array kernels shared by both paths (the layers and the autograd engine), so that each
numerically delicate formula is written once: stable `log_softmax`, `softmax` and `sigmoid`,
Leaky ReLU's slope, dropout masks, BatchNorm's running statistics and `layer_norm`'s
normalisation; the error function
(`erf`, `erfc`, which NumPy lacks), the normal distribution's `normal_cdf` and `normal_pdf`,
GELU and its derivative; and `scatter_add_rows`, an embedding's backward pass."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from .types import Array


def log_softmax(z: Array, axis: int = -1) -> Array:
    """Numerically stable ``log(softmax(z))`` along ``axis``.

    Uses the log-sum-exp trick: with ``m = max(z)``,
    ``log_softmax(z) = z - m - log(sum(exp(z - m)))``. Every ``z - m`` is <= 0, so ``exp``
    cannot overflow, and the largest term is exp(0) = 1, so the log never sees 0.
    """
    shifted = z - z.max(axis=axis, keepdims=True)
    # exp of a very negative number underflows to 0, which is then the exact answer.
    with np.errstate(under="ignore"):
        sum_exp = np.exp(shifted).sum(axis=axis, keepdims=True)
    out: Array = shifted - np.log(sum_exp)
    return out


def softmax(z: Array, axis: int = -1) -> Array:
    """Numerically stable ``softmax(z) = exp(z) / sum(exp(z))`` along ``axis``."""
    with np.errstate(under="ignore"):
        out: Array = np.exp(log_softmax(z, axis=axis))
    return out


def nll_loss(log_probs: Array, targets: Array) -> Array:
    """Mean negative log-likelihood, as a 0-d array of ``log_probs``' dtype.

    ``log_probs`` (N, C); ``targets`` class labels (N,), giving ``-(1/N) sum_n log_probs[n,
    t_n]``, or class probabilities (N, C), giving ``-(1/N) sum t * log_probs``.
    """
    n = log_probs.shape[0]
    if targets.ndim == 1:
        total = log_probs[np.arange(n), targets].sum()
    else:
        total = np.sum(targets * log_probs)
    return np.asarray(-total / n, dtype=log_probs.dtype)


def sigmoid(x: Array) -> Array:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, stable for any ``x``.

    Computed as ``1 / (1 + exp(-x))`` for x >= 0 and ``exp(x) / (1 + exp(x))`` for x < 0, so
    ``exp`` only ever sees ``-|x|`` and cannot overflow, whatever the magnitude of x.
    """
    # exp(-|x|) may underflow to 0 for |x| > ~700 (float64); 0 is then the exact answer.
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(x))
    out: Array = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out


def leaky_relu_slope(x: Array, negative_slope: float) -> Array:
    """Leaky ReLU's derivative ``1 if x > 0 else negative_slope``, in ``x``'s dtype;
    ``leaky_relu(x) = x * slope``."""
    return np.where(x > 0, 1, negative_slope).astype(x.dtype)


def layer_norm(x: Array, axes: tuple[int, ...], eps: float) -> tuple[Array, Array]:
    """Each sample of ``x`` normalized over ``axes`` by its own mean and biased variance:
    ``x_hat = (x - mean) / sqrt(var + eps)``; returns ``x_hat`` and ``1 / sqrt(var + eps)``
    (the latter with ``axes`` kept, of size 1, for the backward pass)."""
    mean = x.mean(axis=axes, keepdims=True)
    inv_std: Array = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    x_hat: Array = (x - mean) * inv_std
    return x_hat, inv_std


def dropout_mask(
    shape: tuple[int, ...], p: float, rng: np.random.Generator, dtype: DTypeLike
) -> Array:
    """Inverted dropout's mask: ``[u >= p] / (1 - p)`` with ``u ~ U[0, 1)`` per element (all
    zeros for p = 1), so that ``x * mask`` keeps the expected value of ``x``."""
    keep = rng.random(shape, dtype=np.float32 if np.dtype(dtype) == np.float32 else np.float64)
    scale = 1 / (1 - p) if p < 1 else 0.0
    mask: Array = ((keep >= p) * scale).astype(dtype)
    return mask


def update_running_stats(
    running_mean: Array, running_var: Array, mean: Array, var: Array, n: int, momentum: float
) -> None:
    """BatchNorm's running statistics, in place, with PyTorch's conventions::

        running_mean <- (1 - momentum) * running_mean + momentum * mean
        running_var  <- (1 - momentum) * running_var  + momentum * var * n / (n - 1)

    ``var`` is the batch's biased variance over ``n`` values per feature; the running one is
    the unbiased estimate.
    """
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += momentum * var * (n / (n - 1))


# -- the error function and GELU ---------------------------------------------------------------
# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
# (1969) 631-638, as in his SPECFUN routine CALERF (netlib.org/specfun/erf): the coefficients
# of three rational functions, each accurate to about 1e-18 on its interval.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)  # fmt: skip
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)  # fmt: skip
_ERFC_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
           2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
           2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)  # fmt: skip
_ERFC_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
           1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
           3.43936767414372164e03, 1.23033935480374942e03)  # fmt: skip
_ERFC_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
           1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)  # fmt: skip
_ERFC_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
           6.05183413124413191e-2, 2.33520497626869185e-3)  # fmt: skip
_ERF_SMALL = 0.46875  # erf itself below, erfc above
_ERFC_UNDERFLOW = 27.3  # erfc(x) < 5e-324, the least float64, beyond: 0


def _ratio(t: Array, num: tuple[float, ...], den: tuple[float, ...]) -> Array:
    """Cody's ``P(t) / Q(t)``: ``num[-1]`` leads the numerator, ``den`` has a leading 1, both
    evaluated by Horner's rule as in CALERF, in place (two arrays, however many terms)."""
    xnum, xden = t * num[-1], t.copy()
    for a, b in zip(num[: len(den) - 1], den):
        xnum += a
        xnum *= t
        xden += b
        xden *= t
    xnum += num[len(den) - 1]
    xden += den[-1]
    xnum /= xden
    return xnum


def _erf_small(x: Array) -> Array:
    """erf(x) for |x| <= 0.46875: ``x P(x²) / Q(x²)`` (odd, so erf(-0) = -0)."""
    with np.errstate(under="ignore"):  # x² of a subnormal x: 0 is exact enough
        return x * _ratio(x * x, _ERF_A, _ERF_B)


def _erfc_large(y: Array) -> Array:
    """erfc(y) for y > 0.46875 (0 from 27.3 on), y one-dimensional: ``exp(-y²) R(y)``, with
    ``R`` rational in y up to 4 and in 1/y² beyond. ``exp(-y²)`` is ``exp(-s²) exp(-(y -
    s)(y + s))`` with ``s = trunc(16 y) / 16``, whose square is exact, so the rounding of y²
    costs nothing."""
    out = np.zeros_like(y)
    mid, tail = np.flatnonzero(y <= 4), np.flatnonzero((y > 4) & (y < _ERFC_UNDERFLOW))
    out[mid] = _ratio(y[mid], _ERFC_C, _ERFC_D)
    if tail.size:
        inv_sq = 1 / (y[tail] * y[tail])
        out[tail] = (0.56418958354775628695 - inv_sq * _ratio(inv_sq, _ERFC_P, _ERFC_Q)) / y[tail]
        mid = np.concatenate([mid, tail])
    live = y[mid]
    s = np.trunc(live * 16) / 16
    with np.errstate(under="ignore"):  # from x = 26.55 on erfc is subnormal
        out[mid] *= np.exp(-s * s) * np.exp(-(live - s) * (live + s))
    return out


def _split(x: Array) -> tuple[Array, Array, Array]:
    """``x`` in float64 and flat, and the positions of |x| <= 0.46875 and of |x| > 0.46875
    (NaN in neither, so it stays NaN)."""
    x64 = np.asarray(x, dtype=np.float64).reshape(-1)
    size = np.abs(x64)
    return x64, np.flatnonzero(size <= _ERF_SMALL), np.flatnonzero(size > _ERF_SMALL)


def erf(x: Array) -> Array:
    """The error function ``erf(x) = 2/sqrt(pi) ∫_0^x exp(-t²) dt``, elementwise, in ``x``'s
    floating dtype (computed in float64; integers and booleans give float64).

    NumPy has none, so this is W. J. Cody's rational Chebyshev approximation (1969, his
    CALERF): ``x P(x²)/Q(x²)`` for |x| <= 0.46875 and ``±(1 - erfc(|x|))`` beyond (see
    `erfc`). In float64 it is within 6e-16 relative of ``math.erf`` (3 units in the last
    place; tests/test_text_layers.py checks a grid from 1e-320 to the tails); erf(±0) = ±0,
    erf(±inf) = ±1, and NaN stays NaN.
    """
    x64, small, large = _split(x)
    out = np.full_like(x64, np.nan)
    out[small] = _erf_small(x64[small])
    out[large] = np.copysign(1 - _erfc_large(np.abs(x64[large])), x64[large])
    return _like(out.reshape(np.shape(x)), x)


def erfc(x: Array) -> Array:
    """The complementary error function ``erfc(x) = 1 - erf(x)``, elementwise, accurate in
    the right tail too (erfc(10) = 2.1e-45, where ``1 - erf(10)`` is 0): within 1e-15
    relative of ``math.erfc`` wherever that is a normal float. As `erf` otherwise."""
    x64, small, large = _split(x)
    out = np.full_like(x64, np.nan)
    out[small] = 1 - _erf_small(x64[small])
    tail = _erfc_large(np.abs(x64[large]))
    out[large] = np.where(x64[large] < 0, 2 - tail, tail)
    return _like(out.reshape(np.shape(x)), x)


def _like(out: Array, x: Array) -> Array:
    """A float64 result in the floating dtype of ``x`` (float64 for integers and booleans)."""
    dtype = np.asarray(x).dtype
    return out.astype(dtype if dtype.kind == "f" else np.float64, copy=False)


def normal_cdf(x: Array) -> Array:
    """``Φ(x) = P(Z <= x)`` for a standard normal Z: ``erfc(-x / sqrt(2)) / 2``, accurate in
    both tails (``(1 + erf(x / sqrt(2))) / 2`` would lose every digit below x = -8)."""
    with np.errstate(under="ignore"):
        half: Array = erfc(x * -_SQRT_HALF) * 0.5
    return half


def normal_pdf(x: Array) -> Array:
    """``φ(x) = exp(-x² / 2) / sqrt(2 pi)``, the standard normal density, ``Φ' = φ``. ``x`` is
    clipped to ±40 first: φ is 0 there already (below 1e-324), and x² would overflow."""
    bounded = np.clip(x, -NORMAL_PDF_BOUND, NORMAL_PDF_BOUND)
    with np.errstate(under="ignore"):  # exp(-800) = 0 is the float answer
        density: Array = np.exp(bounded * bounded * -0.5) * _INV_SQRT_2PI
    return density


_SQRT_HALF = 0.7071067811865476  # 1 / sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)
NORMAL_PDF_BOUND = 40.0
GELU_TANH_SCALE = 0.7978845608028654  # sqrt(2 / pi)
GELU_TANH_CUBIC = 0.044715
GELU_TANH_BOUND = 100.0
"""Beyond ±100 the tanh of GELU's approximation is ±1 exactly, in any float type: the
formulas clip x there, so that x³ never overflows."""
GELU_APPROXIMATIONS = ("none", "tanh")


def gelu_tanh_inner(x: Array) -> tuple[Array, Array]:
    """``x`` clipped to ±100 and ``t = tanh(sqrt(2/pi) (x + 0.044715 x³))`` of it (PyTorch's
    order of operations), for the tanh form of GELU."""
    bounded = np.clip(x, -GELU_TANH_BOUND, GELU_TANH_BOUND)
    with np.errstate(under="ignore"):  # x³ of a tiny x: 0 is the float answer
        cubic = bounded * bounded * bounded * GELU_TANH_CUBIC
    t: Array = np.tanh((bounded + cubic) * GELU_TANH_SCALE)
    return bounded, t


def gelu(x: Array, approximate: str = "none") -> Array:
    """GELU, ``x Φ(x)`` (Hendrycks and Gimpel, 2016), or with ``approximate="tanh"`` PyTorch's
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³)))``; in ``x``'s dtype. At x = -inf both
    are NaN (-inf · 0), as PyTorch's."""
    return gelu_and_cdf(x, approximate)[0]


def gelu_and_cdf(x: Array, approximate: str = "none") -> tuple[Array, Array | None]:
    """`gelu` and, for the exact form, the ``Φ(x)`` it computed (None for the tanh form), which
    `gelu_derivative` reuses instead of computing it again (the costly part)."""
    with np.errstate(invalid="ignore"):
        if approximate == "tanh":
            y: Array = x * 0.5 * (1 + gelu_tanh_inner(x)[1])
            return y, None
        cdf = normal_cdf(x)
        y = x * cdf
    return y, cdf


def gelu_derivative(x: Array, approximate: str = "none", cdf: Array | None = None) -> Array:
    """``d gelu / dx``: ``Φ(x) + x φ(x)`` (``cdf``: ``Φ(x)`` if the forward pass kept it), or
    for the tanh form, with ``t`` the tanh, ``0.5 (1 + t) + 0.5 x (1 - t²) sqrt(2/pi)
    (1 + 3 · 0.044715 x²)`` (as PyTorch's). At x = ±inf both are NaN (inf · 0), as PyTorch's."""
    with np.errstate(invalid="ignore", under="ignore"):
        if approximate == "tanh":
            bounded, t = gelu_tanh_inner(x)
            slope = (1 - t * t) * GELU_TANH_SCALE * (1 + bounded * bounded * (3 * GELU_TANH_CUBIC))
            derivative: Array = (1 + t) * 0.5 + x * 0.5 * slope
            return derivative
        derivative = (normal_cdf(x) if cdf is None else cdf) + x * normal_pdf(x)
    return derivative


def scatter_add_rows(out: Array, indices: Array, rows: Array) -> Array:
    """``out[...] = 0``, then ``out[indices[k]] += rows[k]`` for every k, repeated indices
    summed (``np.add.at``'s result), into ``out`` (V, D); ``indices`` any shape, ``rows``
    that shape plus (D,). Returns ``out``.

    Faster than ``np.add.at`` (1.5 to 3 times): the rows in use (``np.unique``), then each
    (row, column)'s sum by one ``np.bincount``, which adds in float64 whatever the dtype.
    """
    used, position = np.unique(indices.reshape(-1), return_inverse=True)
    dim = out.shape[1]
    cells = (position.reshape(-1, 1) * dim + np.arange(dim)).reshape(-1)
    weights = rows.reshape(-1).astype(np.float64, copy=False)
    sums = np.bincount(cells, weights=weights, minlength=used.size * dim)
    out[...] = 0
    out[used] = sums.reshape(used.size, dim)
    return out
