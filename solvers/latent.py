"""A latent ODE (Rubanova, Chen and Duvenaud, 2019) for irregularly sampled time series.

A GRU reads the observations backwards in time and gives a Gaussian posterior over the latent
initial state `z0`; a neural ODE carries `z0` forward; a decoder maps the latent path to the
observations. Training maximizes the evidence lower bound (Gaussian likelihood of the observed
values, KL divergence of the posterior from a standard normal prior).

Irregular sampling is expressed by padding: every series of a batch has `T` slots with times
`ts` (non-decreasing; padded slots repeat the last time) and a `mask` `(T, data_size)` that is
1 where a value was observed. Unobserved values (and whole padded slots) touch neither the
encoder nor the likelihood.
"""

import math

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from solvers.neural_ode import MLPVectorField, NeuralODE


class LatentODE(eqx.Module):
    """A latent ODE: `encoder` (GRU over `[y · mask, mask, Δt]`), `to_posterior` (hidden state
    to the mean and log standard deviation of `z0`), `dynamics` (a `NeuralODE` on `z`) and
    `decoder` (`z` to the data). `noise_std` is the observation noise of the likelihood."""

    encoder: eqx.nn.GRUCell
    to_posterior: eqx.nn.Linear
    dynamics: NeuralODE
    decoder: eqx.nn.MLP
    noise_std: float = eqx.field(static=True)

    def __init__(
        self,
        data_size: int,
        latent_size: int,
        hidden_size: int,
        width: int,
        depth: int,
        *,
        noise_std: float = 0.1,
        dynamics: NeuralODE | None = None,
        key: PRNGKeyArray,
    ):
        keys = jax.random.split(key, 4)
        self.encoder = eqx.nn.GRUCell(2 * data_size + 1, hidden_size, key=keys[0])
        self.to_posterior = eqx.nn.Linear(hidden_size, 2 * latent_size, key=keys[1])
        if dynamics is None:
            field = MLPVectorField(latent_size, width, depth, key=keys[2])
            dynamics = NeuralODE(field, dfx.Tsit5(), dfx.PIDController(rtol=1e-3, atol=1e-4))
        self.dynamics = dynamics
        self.decoder = eqx.nn.MLP(latent_size, data_size, width, depth, key=keys[3])
        self.noise_std = noise_std

    def encode(
        self, ts: Float[Array, " T"], ys: Float[Array, "T D"], mask: Float[Array, "T D"]
    ) -> tuple[Float[Array, " L"], Float[Array, " L"]]:
        """The posterior mean and standard deviation of `z0` given one series."""
        gaps = jnp.diff(ts, append=ts[-1:])  # time to the next slot, read backwards

        def read(hidden, slot):
            y, m, gap = slot
            updated = self.encoder(jnp.concatenate([y * m, m, gap[None]]), hidden)
            return jnp.where(jnp.any(m > 0), updated, hidden), None

        hidden = jnp.zeros(self.encoder.hidden_size, ys.dtype)
        hidden, _ = jax.lax.scan(read, hidden, (ys, mask, gaps), reverse=True)
        mean, log_std = jnp.split(self.to_posterior(hidden), 2)
        return mean, jnp.exp(log_std)

    def decode(self, z0: Float[Array, " L"], ts: Float[Array, " T"]) -> Float[Array, "T D"]:
        """The decoded latent path from `z0` at `ts[0]`, at every time of `ts` (repeats allowed)."""
        solution, _ = self.dynamics._integrate(ts, z0, None, dfx.SaveAt(ts=ts))
        return jax.vmap(self.decoder)(solution.ys)

    def loss(
        self,
        ts: Float[Array, " T"],
        ys: Float[Array, "T D"],
        mask: Float[Array, "T D"],
        *,
        key: PRNGKeyArray,
        kl_weight: float = 1.0,
    ) -> Float[Array, ""]:
        """The negative evidence lower bound of one series, per observed value: Gaussian
        negative log-likelihood of the observed values plus `kl_weight` times the KL divergence
        of the posterior over `z0` from `N(0, I)`."""
        mean, std = self.encode(ts, ys, mask)
        z0 = mean + std * jax.random.normal(key, mean.shape, mean.dtype)
        residual = (self.decode(z0, ts) - ys) / self.noise_std
        nll = 0.5 * jnp.sum(mask * (residual**2 + math.log(2 * math.pi * self.noise_std**2)))
        kl = 0.5 * jnp.sum(mean**2 + std**2 - 1.0 - 2.0 * jnp.log(std))
        return (nll + kl_weight * kl) / jnp.maximum(jnp.sum(mask), 1.0)

    def __call__(
        self,
        ts: Float[Array, " T"],
        ys: Float[Array, "T D"],
        mask: Float[Array, "T D"],
        query_ts: Float[Array, " Q"],
    ) -> Float[Array, "Q D"]:
        """The prediction at `query_ts` (at or after `ts[0]`, in order) from the posterior mean
        of `z0` given the observed series: interpolation and extrapolation alike."""
        mean, _ = self.encode(ts, ys, mask)
        return self.decode(mean, jnp.concatenate([ts[:1], query_ts]))[1:]
