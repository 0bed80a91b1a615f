"""Losses and error measures, in one place.

- **Norms** (`relative_l2`, `relative_h1`, `mse`, `relative_sobolev`; `sobolev_norm` of
  periodic fields, negative orders included): compare one sample, shaped
  `(channels, *spatial)`, and return a scalar; `jax.vmap` them over a batch.
- **Metrics** (`Mean`, `PooledRelativeL2`, `MaxAbsError`): how `jaxsciml.evaluate` turns
  per-sample statistics into one number over a whole dataset.
- **Training losses**: every one has the signature `loss(model, batch, key) -> scalar`.
  `relative_l2_loss` (the default of `fit`), `mse_loss` and `SobolevLoss` (periodic fields)
  work for every labelled batch; the
  model-specific ones live beside their models and are reachable here too:
  `frequency_relative_l2` (T1), `loss_at_times` (OperatorODE), `PhysicsLoss` (PIG, PINN) and
  `DGNOLoss` (DGNO).

This module is a leaf: models and the training loop both import it, and it imports neither
(the model-specific losses are looked up when first asked for).
"""

import abc
import importlib
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def relative_l2(
    prediction: Float[Array, " c *spatial"], target: Float[Array, " c *spatial"]
) -> Float[Array, ""]:
    """`‖prediction − target‖₂ / ‖target‖₂` over the flattened sample (all channels and points).

    The grid spacing cancels in the ratio, so this is the relative L2 norm of the functions on any
    uniform grid. A target that is zero everywhere gives `inf` (or `nan` when the prediction is
    zero too): relative errors are undefined there.
    """
    return jnp.linalg.norm((prediction - target).ravel()) / jnp.linalg.norm(target.ravel())


def _derivative(u: Array, axis: int, h: float) -> Array:
    """Second-order finite difference along `axis`: central inside, one-sided at both ends."""
    take = lambda start, stop: jax.lax.slice_in_dim(u, start, stop, axis=axis)
    n = u.shape[axis]
    inside = (take(2, n) - take(0, n - 2)) / (2 * h)
    first = (-3 * take(0, 1) + 4 * take(1, 2) - take(2, 3)) / (2 * h)
    last = (3 * take(n - 1, n) - 4 * take(n - 2, n - 1) + take(n - 3, n - 2)) / (2 * h)
    return jnp.concatenate([first, inside, last], axis=axis)


def _trapezoid_weights(spatial_shape) -> Array:
    """Trapezoidal quadrature weights on the uniform grid of the unit cube (endpoints included)."""
    weights = jnp.ones(())
    for n in spatial_shape:
        w = jnp.full((n,), 1.0 / (n - 1)).at[0].mul(0.5).at[-1].mul(0.5)
        weights = jnp.multiply.outer(weights, w)
    return weights


def _h1_norm_squared(e: Float[Array, " c *spatial"]) -> Float[Array, ""]:
    """`∫ e² + |∇e|²` over the unit cube, by the trapezoidal rule."""
    spatial = e.shape[1:]
    squares = e**2
    for axis, n in enumerate(spatial, start=1):
        squares = squares + _derivative(e, axis, 1.0 / (n - 1)) ** 2
    return jnp.sum(_trapezoid_weights(spatial) * squares)


def relative_h1(
    prediction: Float[Array, " c *spatial"], target: Float[Array, " c *spatial"]
) -> Float[Array, ""]:
    """`‖prediction − target‖_H1 / ‖target‖_H1`, with `‖u‖²_H1 = ‖u‖²_L2 + ‖∇u‖²_L2`.

    The sample lives on the uniform grid of the unit cube (as `jaxsciml.nn.grid_coordinates`);
    derivatives are second-order finite differences (so every axis needs at least 3 points) and
    the integrals use the trapezoidal rule.
    """
    if min(target.shape[1:]) < 3:
        raise ValueError(f"relative_h1 needs at least 3 points per axis; got shape {target.shape}")
    return jnp.sqrt(_h1_norm_squared(prediction - target) / _h1_norm_squared(target))


def sobolev_norm(
    u: Float[Array, " c *spatial"],
    s: float,
    *,
    lengths: float | tuple[float, ...] = 1.0,
    shift: float = 1.0,
    homogeneous: bool = False,
    cutoff: int | None = None,
) -> Float[Array, ""]:
    """`‖u‖_{H^s}` of a periodic field, exactly through Parseval: `u` holds samples at the
    points `j L / N` (`j = 0 … N−1`) of the period `[0, L)` on every axis (`lengths`: `L`, one
    number or one per axis), and

        ‖u‖²_{H^s} = L₁⋯L_d Σ_k (shift + |ξ_k|²)^s |û_k|²,   ξ_k = 2π (k₁/L₁, …, k_d/L_d),

    the norm of `(shift − Δ)^{s/2} u`, with `û_k` the Fourier coefficients of the trigonometric
    interpolant, summed over the channels (frames stacked as channels give the Bochner norm
    `L²(0, T; H^s)` of a trajectory). `s = 0` is the L2 norm; `s < 0` a negative Sobolev norm,
    which weighs the low frequencies of an error: Spectral-Refiner's loss is `s = −1` (its code
    takes `shift = 0.1`). `homogeneous=True` takes `|ξ_k|^{2s}` and leaves out the mean
    (`k = 0`): the seminorm of mean-free fields. `cutoff`: on each axis, the integer
    wavenumbers `|k_i| ≥ cutoff` add nothing to `|ξ_k|²` (MgNO's H1 loss is `s = 1`,
    `lengths = 2π`, so that `ξ_k = k`, with `cutoff = 20`).
    """
    spatial = u.shape[1:]
    lengths = (lengths,) * len(spatial) if isinstance(lengths, int | float) else tuple(lengths)
    if len(lengths) != len(spatial):
        raise ValueError(f"{len(lengths)} lengths for a field on {len(spatial)} axes")
    axes = tuple(range(1, u.ndim))
    coefficients = jnp.fft.fftn(u, axes=axes) / np.prod(spatial)
    frequencies = []
    for n, length in zip(spatial, lengths):
        wavenumbers = np.fft.fftfreq(n, d=1 / n)
        kept = np.ones(n, bool) if cutoff is None else np.abs(wavenumbers) < cutoff
        frequencies.append(np.where(kept, 2 * np.pi * wavenumbers / length, 0.0))
    squared = sum(
        jnp.reshape(f**2, [-1 if a == i else 1 for a in range(len(spatial))])
        for i, f in enumerate(frequencies)
    )
    if homogeneous:
        weights = jnp.where(squared > 0, squared, 1.0) ** s
        weights = jnp.where(squared > 0, weights, 0.0)
    else:
        weights = (shift + squared) ** s
    total = jnp.sum(weights * jnp.abs(coefficients) ** 2)
    return jnp.sqrt(np.prod(lengths) * total)


def relative_sobolev(
    prediction: Float[Array, " c *spatial"],
    target: Float[Array, " c *spatial"],
    s: float = -1.0,
    **options,
) -> Float[Array, ""]:
    """`‖prediction − target‖_{H^s} / ‖target‖_{H^s}` on a periodic grid (`sobolev_norm`)."""
    return sobolev_norm(prediction - target, s, **options) / sobolev_norm(target, s, **options)


class SobolevLoss(eqx.Module):
    """A training loss: the batch mean of `relative_sobolev(prediction, target, s)`, for
    periodic fields of period `lengths` (default: the unit period; default `s = −1`: the
    negative Sobolev norm of Spectral-Refiner). `SobolevLoss(s=0.0)` is the relative L2 loss
    computed in Fourier space; `SobolevLoss(s=1.0, lengths=2π, cutoff=20)` is MgNO's H1 loss."""

    s: float = -1.0
    shift: float = 1.0
    homogeneous: bool = False
    lengths: float | tuple[float, ...] = 1.0
    cutoff: int | None = None

    def __call__(self, model, batch, key) -> Float[Array, ""]:
        del key
        options = dict(
            shift=self.shift, homogeneous=self.homogeneous, lengths=self.lengths, cutoff=self.cutoff
        )
        measure = lambda p, t: relative_sobolev(p, t, self.s, **options)  # noqa: E731
        return batch_mean(measure, batch.predict(model), batch.target)


def mse(
    prediction: Float[Array, " c *spatial"], target: Float[Array, " c *spatial"]
) -> Float[Array, ""]:
    """Mean squared error over every channel and grid point."""
    return jnp.mean((prediction - target) ** 2)


def batch_mean(measure, predictions: Array, targets: Array) -> Float[Array, ""]:
    """Mean over a batch (leading axis) of a per-sample `measure` such as `relative_l2`."""
    return jnp.mean(jax.vmap(measure)(predictions, targets))


# --- training losses ------------------------------------------------------------------------


def relative_l2_loss(model, batch, key) -> Float[Array, ""]:
    """The default training loss: mean over the batch of each sample's relative L2 error of
    `batch.predict(model)` against `batch.target` (the FNO papers' loss, averaged instead of
    summed). Works for every `jaxsciml.data.AbstractLabelledBatch`."""
    del key
    return batch_mean(relative_l2, batch.predict(model), batch.target)


def mse_loss(model, batch, key) -> Float[Array, ""]:
    """Mean squared error of `batch.predict(model)` against `batch.target` over every value of
    the batch (DeepONet's and DeepXDE's default loss)."""
    del key
    return batch_mean(mse, batch.predict(model), batch.target)


# --- metrics: per-sample statistics reduced over a dataset ----------------------------------


class Metric(eqx.Module):
    """How `jaxsciml.evaluate` measures a model over a dataset: `statistics` of each sample
    (a vector), reduced over all samples by `reduction` (`"sum"` or `"max"`), then `result`."""

    reduction: eqx.AbstractClassVar[str]

    @abc.abstractmethod
    def statistics(self, prediction: Array, target: Array) -> Float[Array, " k"]:
        """The statistics of one sample."""

    @abc.abstractmethod
    def result(self, reduced: np.ndarray, count: int) -> float:
        """The metric from the statistics reduced over `count` samples."""


class Mean(Metric):
    """The mean over samples of a per-sample `measure(prediction, target) -> scalar` (such as
    `relative_l2`): how the FNO papers report test errors."""

    measure: Callable = eqx.field(static=True)
    reduction = "sum"

    def statistics(self, prediction: Array, target: Array) -> Float[Array, " 1"]:
        return self.measure(prediction, target)[None]

    def result(self, reduced: np.ndarray, count: int) -> float:
        return float(reduced[0] / count)


class PooledRelativeL2(Metric):
    """`‖u − u*‖₂ / ‖u*‖₂` over every value of every sample together (the PIG scripts' test
    error over all test points, where each point is a sample)."""

    reduction = "sum"

    def statistics(self, prediction: Array, target: Array) -> Float[Array, " 2"]:
        return jnp.stack([jnp.sum((prediction - target) ** 2), jnp.sum(target**2)])

    def result(self, reduced: np.ndarray, count: int) -> float:
        return float(np.sqrt(reduced[0] / reduced[1]))


class MaxAbsError(Metric):
    """The largest absolute error over every value of every sample."""

    reduction = "max"

    def statistics(self, prediction: Array, target: Array) -> Float[Array, " 1"]:
        return jnp.max(jnp.abs(prediction - target))[None]

    def result(self, reduced: np.ndarray, count: int) -> float:
        return float(reduced[0])


def as_metric(metric: Metric | Callable) -> Metric:
    """A `Metric` as it is; a per-sample measure as its `Mean`."""
    return metric if isinstance(metric, Metric) else Mean(metric)


# --- the model-specific losses, looked up on first use (this module stays a leaf) -----------

_ELSEWHERE = {
    "frequency_relative_l2": "jaxsciml.operators.t1",
    "loss_at_times": "jaxsciml.operators.operator_ode",
    "PhysicsLoss": "jaxsciml.physics.loss",
    "DGNOLoss": "jaxsciml.operators.dgno",
}


def __getattr__(name: str):
    if name in _ELSEWHERE:
        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_ELSEWHERE])
