"""Evaluating pointwise functions over many points, in chunks when memory asks for it."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def _chunk_count(n: int, chunk_size: int) -> int:
    """The fewest chunks of at most `chunk_size` points that split `n` points evenly."""
    count = max(1, -(-n // chunk_size))
    while n % count:
        count += 1
    return count


def map_points(
    fn: Callable[[Array], Array],
    points: Float[Array, "n d"],
    chunk_size: int | None = None,
) -> Array:
    """`jax.vmap(fn)(points)`, computed `chunk_size` points at a time.

    A Gaussian-feature model evaluated at `n` points holds `(n, features, gaussians)`
    intermediates, and differentiating a residual through it holds several; chunking bounds that
    to `chunk_size` points. The chunks run in a `lax.map` whose body is rematerialized
    (`jax.checkpoint`), so reverse mode keeps only each chunk's inputs, not its intermediates.

    Chunk `j` holds points `j, j + c, j + 2c, ...` (`c` chunks): when `points` is sharded over
    devices along its first axis, every chunk then spans every device, and each device works
    through its own slice chunk by chunk. `c` is the fewest chunks of at most `chunk_size` that
    divide `n`. `None` (or `chunk_size ≥ n`) is a plain `vmap`. Results are in the order of
    `points`.
    """
    n = points.shape[0]
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    if chunk_size is None or chunk_size >= n:
        return jax.vmap(fn)(points)
    count = _chunk_count(n, chunk_size)
    strided = points.reshape(n // count, count, -1).swapaxes(0, 1)  # (count, n/count, d)
    out = jax.lax.map(jax.checkpoint(jax.vmap(fn)), strided)
    return jax.tree.map(lambda y: jnp.swapaxes(y, 0, 1).reshape(n, *y.shape[2:]), out)
