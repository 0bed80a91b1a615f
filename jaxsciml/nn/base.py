"""Modules on fields sampled on grids, written once for a batch."""

import abc

import equinox as eqx
import jax
from jaxtyping import Array, Float


class AbstractGridOperator(eqx.Module):
    """Base of modules that map fields on a grid, `(channels, *spatial)`, to fields on a grid.

    Subclasses implement `batched`, which maps a batch `(batch, channels, *spatial)`; calling the
    module maps one sample, as every equinox module does. Use `batched` (or `apply_batch`) for
    batches: `jax.vmap(module)` computes the same values, but under `vmap` every channel
    contraction becomes a matrix product whose operands XLA must first transpose, and on CPU
    those transposes cost more than the arithmetic (FNO training at 128² ran 3x slower in
    `benchmarks/fno_train_step.py`).
    """

    @abc.abstractmethod
    def batched(self, x: Float[Array, " batch c *spatial"]) -> Float[Array, " batch d *spatial"]:
        """Map a batch `(batch, in_channels, *spatial)` to `(batch, out_channels, *spatial)`."""

    def __call__(self, x: Float[Array, " c *spatial"]) -> Float[Array, " d *spatial"]:
        """Map one sample `(in_channels, *spatial)` to `(out_channels, *spatial)`."""
        return self.batched(x[None])[0]


def apply_batch(model, inputs: Array) -> Array:
    """`model` applied to every sample of `inputs` (leading batch axis).

    Calls `model.batched` for grid modules and `jax.vmap(model)` for any other callable, so losses
    written with it work for every model and take the fast path where one exists.
    """
    if isinstance(model, AbstractGridOperator):
        return model.batched(inputs)
    return jax.vmap(model)(inputs)
