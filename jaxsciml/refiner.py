"""Spectral-Refiner's second stage (Cao et al., ICLR 2025): an SFNO trained for a few epochs is
refined on each trajectory it predicts, with no reference solution.

Everything but the output spectral layer is frozen (its latent frames are computed once); that
layer is given the grid's whole spectrum (no frequency truncation) and trained on the
a posteriori error estimator of the prediction, `‖r‖_{L²(0,T; H⁻¹)}` of the vorticity residual
(`jaxsciml.physics.vorticity`). The output is linear in that layer's weights, so this loss is
convex in them up to the advection term, which is what the paper argues makes the stage cheap
and reliable. The learning rates default to the paper's notebook: `1e-4` for the weights,
`0.2` for the spectral bias, Adam, 50 steps. On the 32² FNO data of
`benchmarks/spectral_refiner.py` those lowered the error by 9%; ten times both rates and 200
steps lowered it six-fold (0.0105 to 0.0018).

`fit(model.with_output_modes(...), data, loss=VorticityResidualLoss(...),
trainable=output_layer_filter)` runs the same refinement over a dataset instead of per sample.
"""

import dataclasses
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float

from jaxsciml.operators.sfno import SFNO
from jaxsciml.physics.vorticity import vorticity_error_estimator


@dataclasses.dataclass(frozen=True)
class Refinement:
    """What `refine` returns: the refined `model`, its `prediction` `(t_out, n, n)`, and the
    estimator before each step and after the last, `estimates` `(steps + 1,)`."""

    model: SFNO
    prediction: np.ndarray
    estimates: np.ndarray


def full_output_modes(model: SFNO, n: int) -> tuple[int, int, int]:
    """The refinement's default output modes on an `n²` grid: every spatial frequency, and one
    temporal mode more than trained (as the paper's notebook)."""
    return (n // 2, n // 2, model.output.modes[2] + 1)


def refine(
    model: SFNO,
    frames: Float[Array, " t_in n n"],
    *,
    viscosity: float,
    frame_interval: float,
    forcing: Float[Array | np.ndarray, " n n"] | None = None,
    modes: Sequence[int] | None = None,
    steps: int = 50,
    weight_learning_rate: float = 1e-4,
    bias_learning_rate: float = 0.2,
    shift: float = 0.0,
    out_steps: int | None = None,
) -> Refinement:
    """Refine `model`'s prediction from `frames` (one sample, `frame_interval` apart in the time
    unit of `viscosity`) by `steps` Adam steps on the estimator (see the module docstring).

    `modes`: the output layer's modes `(mx, my, mt)` while refining (default
    `full_output_modes`); `shift`: the `H⁻¹` norm's shift (0: the dual of the `H¹` seminorm).
    """
    if steps < 0:
        raise ValueError(f"steps must be non-negative, got {steps}")
    frames = jnp.asarray(frames)
    n = frames.shape[-1]
    modes = full_output_modes(model, n) if modes is None else tuple(modes)
    model = model.with_output_modes(modes)
    latent = model.latent(frames[None])
    last = frames[-1][None]
    forcing = None if forcing is None else jnp.asarray(forcing, frames.dtype)
    layer, static = eqx.partition(model.output, eqx.is_inexact_array)
    labels = jax.tree.map(lambda _: "weight", layer)
    labels = eqx.tree_at(lambda c: (c.bias_real, c.bias_imag), labels, ("bias", "bias"))
    optimizer = optax.multi_transform(
        {"weight": optax.adam(weight_learning_rate), "bias": optax.adam(bias_learning_rate)},
        lambda _: labels,  # a function: the labels are a module, which optax would call
    )

    def predict(layer):
        refined = eqx.tree_at(lambda m: m.output, model, eqx.combine(layer, static))
        return refined.decode(last, latent, out_steps)[0]

    def estimate(layer):
        trajectory = jnp.concatenate([frames[-1:], predict(layer)])
        return vorticity_error_estimator(
            trajectory, frame_interval, viscosity, forcing, shift=shift
        )

    @jax.jit
    def step(layer, state):
        value, gradient = jax.value_and_grad(estimate)(layer)
        updates, state = optimizer.update(gradient, state, layer)
        return optax.apply_updates(layer, updates), state, value

    state = optimizer.init(layer)
    estimates = []
    for _ in range(steps):
        layer, state, value = step(layer, state)
        estimates.append(float(value))
    estimates.append(float(jax.jit(estimate)(layer)))
    refined = eqx.tree_at(lambda m: m.output, model, eqx.combine(layer, static))
    prediction = np.asarray(jax.jit(predict)(layer))
    return Refinement(refined, prediction, np.asarray(estimates))
