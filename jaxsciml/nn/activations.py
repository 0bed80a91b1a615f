"""Activations with the exact definitions that the reference implementations use."""

import jax
from jaxtyping import Array


def gelu(x: Array) -> Array:
    """The exact (erf) GELU, PyTorch's default; `jax.nn.gelu` defaults to the tanh approximation."""
    return jax.nn.gelu(x, approximate=False)
