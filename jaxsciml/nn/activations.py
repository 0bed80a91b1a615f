"""Activations with the exact definitions that the reference implementations use."""

import math

import jax
from jaxtyping import Array


def gelu(x: Array) -> Array:
    """The exact GELU, `x (1 + erf(x/√2)) / 2`, as PyTorch defines it.

    `jax.nn.gelu` defaults to the tanh approximation, and its exact form goes through `erfc`,
    which XLA's CPU backend evaluates through an exponential: twice as slow as `erf`.
    """
    return 0.5 * x * (1.0 + jax.lax.erf(x * (1 / math.sqrt(2))))


def tanh_sin(x: Array) -> Array:
    """DGenNO's `Tanh_Sin`: `tanh(sin(π(x + 1))) + x` (a periodic bump on an identity path)."""
    return jax.numpy.tanh(jax.numpy.sin(math.pi * (x + 1.0))) + x


def silu_sin(x: Array) -> Array:
    """DGenNO's `SiLU_Sin`: `SiLU(sin(π(x + 1))) + x`."""
    return jax.nn.silu(jax.numpy.sin(math.pi * (x + 1.0))) + x


def silu_id(x: Array) -> Array:
    """DGenNO's `SiLU_Id`: `SiLU(x) + x`."""
    return jax.nn.silu(x) + x
