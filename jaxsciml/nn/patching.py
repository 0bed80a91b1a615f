"""Multigrid domain decomposition (MG-TFNO, Kossaifi et al., TMLR 2024) for any 2-D grid operator.

A periodic field `(c, H, W)` is split into `n × n` patches (`n = 2^levels`) of `s × s` points
(`s = H / n`), each widened by `p` points of its neighbours on every side (`p` = `padding`
of the grid, a fraction). Each patch also sees its surroundings at `levels` coarser scales:
at level `ℓ`, the field sub-sampled by `2^ℓ`, cut to a window of the patch's pixel size
`s + 2p` centred on the patch, so that it covers `2^ℓ` times the patch's extent. A patch is
thus `(c · (1 + levels), s + 2p, s + 2p)`: its own points first, then the coarse context, level
by level. The operator maps patches to patches, the padding is cropped and the patches are
stitched back in place (`jaxsciml.operators.MultigridPatching` wraps any grid operator so).

This follows neuraloperator's `MultigridPatching2D` (the windows start at the same points, the
context wraps around the periodic domain, and patches are ordered row-major after the batch).
"""

import math

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def _check(shape: tuple[int, ...], levels: int, padding: float) -> tuple[int, int, int]:
    """`(n, s, p)`: patches per axis, the patch side, the padding in points."""
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"multigrid patching takes square 2-D grids, got spatial shape {shape}")
    if levels < 0 or not 0 <= padding < 1:
        raise ValueError(f"levels must be >= 0 and padding in [0, 1), got {levels}, {padding}")
    n = 2**levels
    size = shape[0]
    if size % n or (size // n) % n:
        raise ValueError(
            f"a grid of {size} points splits into {n} patches of equal sides whose coarsest "
            f"level divides them only if {n}² divides {size}; use a grid that is a multiple of "
            f"{n * n}"
        )
    return n, size // n, int(round(size * padding))


def _windows(
    field: Float[Array, " b c m m"], starts: np.ndarray, length: int
) -> Float[Array, " b k k c length length"]:
    """Periodic windows of `length` points starting at `starts` (one per patch row/column)."""
    size = field.shape[-1]
    index = (starts[:, None] + np.arange(length)[None, :]) % size  # (k, length)
    rows = field[:, :, index, :]  # (b, c, k, length, m)
    windows = rows[:, :, :, :, index]  # (b, c, k, length, k, length)
    return jnp.transpose(windows, (0, 2, 4, 1, 3, 5))


def make_patches(
    x: Float[Array, " b c h w"], levels: int, padding: float = 0.0
) -> Float[Array, " patches cc hp wp"]:
    """`(b, c, H, H)` to `(b · n², c · (1 + levels), s + 2p, s + 2p)` (module docstring)."""
    n, s, p = _check(x.shape[2:], levels, padding)
    length = s + 2 * p
    parts = [_windows(x, np.arange(n) * s - p, length)]
    for level in range(1, levels + 1):
        sub = x[:, :, :: 2**level, :: 2**level]
        stride = s // 2**level
        shift = math.ceil((s + (n - 1) * stride - sub.shape[-1]) / 2) + p
        parts.append(_windows(sub, np.arange(n) * stride - shift, length))
    patches = jnp.concatenate(parts, axis=3)  # (b, n, n, c(1 + levels), length, length)
    return patches.reshape(-1, *patches.shape[3:])


def stitch_patches(
    y: Float[Array, " patches c hp wp"], levels: int, size: int, padding: float = 0.0
) -> Float[Array, " b c h w"]:
    """Inverse of the fine part of `make_patches`: crop each patch's padding and put the
    `n × n` patches of each sample back on its `size²` grid."""
    n, s, p = _check((size, size), levels, padding)
    core = y[:, :, p : p + s, p : p + s]
    b = core.shape[0] // (n * n)
    grid = core.reshape(b, n, n, core.shape[1], s, s)
    return jnp.transpose(grid, (0, 3, 1, 4, 2, 5)).reshape(b, core.shape[1], size, size)
