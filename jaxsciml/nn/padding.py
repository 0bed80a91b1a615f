"""Domain padding for non-periodic problems, scaled with the resolution."""

from collections.abc import Sequence

import jax.numpy as jnp
from jaxtyping import Array, Float


def padding_widths(spatial_shape: Sequence[int], fraction: Sequence[float]) -> tuple[int, ...]:
    """Cells to pad per axis: `round(fraction_i * n_i)`.

    A fixed fraction (not a fixed count) keeps the padded domain the same physical size at every
    resolution, so padding does not break zero-shot super-resolution (neuraloperator#72). The FNO
    Darcy script pads 9 cells at 85 points, a fraction of about 0.1.
    """
    return tuple(int(round(f * n)) for f, n in zip(fraction, spatial_shape))


def pad_high(x: Float[Array, "..."], widths: Sequence[int]) -> Float[Array, "..."]:
    """Zero-pad the high end of each of the last `len(widths)` (spatial) axes."""
    return jnp.pad(x, [(0, 0)] * (x.ndim - len(widths)) + [(0, w) for w in widths])


def crop_high(x: Float[Array, "..."], widths: Sequence[int]) -> Float[Array, "..."]:
    """Undo `pad_high`."""
    spatial = x.shape[x.ndim - len(widths) :]
    return x[(Ellipsis, *(slice(0, n - w) for n, w in zip(spatial, widths)))]


def pad_both(x: Float[Array, "..."], widths: Sequence[int]) -> Float[Array, "..."]:
    """Zero-pad both ends of each of the last `len(widths)` axes by `widths` (neuraloperator's
    symmetric domain padding)."""
    return jnp.pad(x, [(0, 0)] * (x.ndim - len(widths)) + [(w, w) for w in widths])


def crop_both(x: Float[Array, "..."], widths: Sequence[int]) -> Float[Array, "..."]:
    """Undo `pad_both`."""
    spatial = x.shape[x.ndim - len(widths) :]
    return x[(Ellipsis, *(slice(w, n - w) for n, w in zip(spatial, widths)))]
