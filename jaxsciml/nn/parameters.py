"""Counting a model's parameters."""

import math

import jax
import jax.numpy as jnp


def count_parameters(model) -> int:
    """Number of real parameters in `model`: the size of every floating-point array leaf.

    Works on a model and on its shape (`equinox.filter_eval_shape`, which builds nothing). Complex
    weights stored as real and imaginary parts count twice, as PyTorch's `count_params` counts a
    complex weight in the FNO reference scripts.
    """
    return sum(
        math.prod(leaf.shape)
        for leaf in jax.tree.leaves(model)
        if hasattr(leaf, "dtype")
        and hasattr(leaf, "shape")
        and jnp.issubdtype(leaf.dtype, jnp.inexact)
    )
