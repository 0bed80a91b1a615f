"""Orthonormal real transforms along grid axes, truncated to the low modes, as matrix products.

Each transform is an orthonormal basis of `R^n` ordered from low to high frequency; keeping the
first `m` basis vectors of each axis gives the reduced-order representation of T1 (Poli et al.,
2022). With `m = n` the pair is exact (round trip, Parseval); with `m < n` the inverse of the
truncated transform is the orthogonal projection onto the kept modes.

- `"dct"`: the orthonormal DCT-II, `C[k, j] = √(2/n) cos(π k (2j + 1) / 2n)` (`√(1/n)` at `k = 0`),
  equal to `scipy.fft.dct(x, norm="ortho")`.
- `"dft"`: the real Fourier basis in the order `1, cos 1, sin 1, cos 2, sin 2, ...` (the Nyquist
  cosine last for even `n`), each normalized: the real, orthonormal form of the DFT, so the
  coefficients and the weights acting on them stay real.
"""

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from jaxsciml.nn.spectral import contract_axis


TRANSFORMS = ("dct", "dft")


def basis(kind: str, n: int, m: int) -> np.ndarray:
    """The first `m` orthonormal basis vectors of `kind` on `n` points, as columns `(n, m)`."""
    if kind not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS}, got {kind!r}")
    if not 1 <= m <= n:
        raise ValueError(f"cannot keep {m} modes of an axis with {n} points (need 1 <= m <= n)")
    j = np.arange(n)
    if kind == "dct":
        k = np.arange(m)
        columns = np.cos(np.pi * np.outer(2 * j + 1, k) / (2 * n)) * np.sqrt(2.0 / n)
        columns[:, 0] = np.sqrt(1.0 / n)
        return columns
    columns = [np.full(n, np.sqrt(1.0 / n))]
    for index in range(1, m):
        frequency = (index + 1) // 2
        if 2 * frequency == n:  # the Nyquist cosine (-1)^j
            columns.append(np.cos(np.pi * j) / np.sqrt(n))
        else:
            wave = np.cos if index % 2 else np.sin
            columns.append(wave(2 * np.pi * frequency * j / n) * np.sqrt(2.0 / n))
    return np.stack(columns, axis=1)


def _apply(x: Array, matrices: Sequence[np.ndarray], transpose: bool) -> Array:
    """Contract the last `len(matrices)` axes of `x` with `matrices` (or their transposes)."""
    d = len(matrices)
    for axis, matrix in zip(range(x.ndim - d, x.ndim), matrices):
        x = contract_axis(x, jnp.asarray(matrix.T if transpose else matrix, x.dtype), axis)
    return x


def forward(
    x: Float[Array, "..."], kind: str, modes: Sequence[int], scale: float = 1.0
) -> Float[Array, "..."]:
    """The first `modes[i]` coefficients along each of the last `len(modes)` axes, times
    `scale` (orthonormal at `scale=1`)."""
    spatial = x.shape[x.ndim - len(modes) :]
    matrices = [basis(kind, n, m) * (scale ** (1 / len(modes))) for n, m in zip(spatial, modes)]
    return _apply(x, matrices, transpose=False)


def inverse(
    coefficients: Float[Array, "..."],
    kind: str,
    spatial_shape: Sequence[int],
    scale: float = 1.0,
) -> Float[Array, "..."]:
    """The field on `spatial_shape` whose `forward(·, scale)` coefficients are `coefficients` and
    whose other coefficients are zero (the inverse of `forward` with the same `scale`)."""
    d = len(spatial_shape)
    kept = coefficients.shape[coefficients.ndim - d :]
    matrices = [basis(kind, n, m) / (scale ** (1 / d)) for n, m in zip(spatial_shape, kept)]
    return _apply(coefficients, matrices, transpose=True)
