"""Inverse problems with a trained DGNO: infer the latent `β`, hence `a` and `u`, from sparse
noisy observations of `u`, with the decoders frozen (DGenNO's inversion).

For each of several restarts, `β = tanh(MLP(1))` (a small MLP on a constant input, `[1, 64, 64,
L]`, as the DGenNO code) minimizes

    data_weight · ‖u(β)(x_obs) − u_obs‖ / ‖u_obs‖ + pde_weight · weak residual(u(β), a(β)),

where the residual (a `DGNOLoss`'s, with fresh test functions every step) takes `a` from the
coefficient decoder. For binary media `a` is a relaxed Bernoulli draw,
`low + (high − low) σ(logit + ℓ)` with logistic noise `ℓ`, and the residual is averaged over
`relaxed_draws` draws, so gradients reach the logits through a near-binary field. The restarts
run in parallel (vectorized), and their spread is the reported uncertainty: the mean and
standard deviation over restarts of `a` and `u` on the model's grid.
"""

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from jaxsciml.operators.dgno import DGNO, DGNOLoss


class InverseResult(NamedTuple):
    """What `invert` found. Per restart: `beta (R, L)`, `coefficient (R, n₁, n₂)` and
    `solution (R, n₁, n₂)` on the model's grid (for binary media the coefficient is the
    likelihood's mean, `low + (high − low) σ(logit)`), and `losses (R, steps)`. Over restarts:
    `coefficient_mean`, `coefficient_std`, `solution_mean`, `solution_std` `(n₁, n₂)`."""

    beta: Array
    coefficient: Array
    solution: Array
    losses: Array
    coefficient_mean: Array
    coefficient_std: Array
    solution_mean: Array
    solution_std: Array


def noisy_observations(
    values: Float[ArrayLike, " N"], snr_db: float, key: PRNGKeyArray
) -> Float[Array, " N"]:
    """`values` plus Gaussian noise at a signal-to-noise ratio of `snr_db` decibels:
    `σ² = mean(values²) / 10^(snr_db / 10)`."""
    values = jnp.asarray(values)
    sigma = jnp.sqrt(jnp.mean(values**2) / 10 ** (snr_db / 10))
    return values + sigma * jax.random.normal(key, values.shape, values.dtype)


def invert(
    model: DGNO,
    observation_points: Float[ArrayLike, "N 2"],
    observations: Float[ArrayLike, " n_obs"],
    loss: DGNOLoss,
    *,
    key: PRNGKeyArray,
    restarts: int = 8,
    steps: int = 500,
    learning_rate: float = 1e-2,
    data_weight: float = 25.0,
    pde_weight: float = 1.0,
    relaxed_draws: int = 25,
) -> InverseResult:
    """Infer `β` from `observations` `(N,)` of `u` at `observation_points` `(N, 2)` (see the
    module docstring); `loss` gives the weak form, source and number of test functions. Adam
    at `learning_rate` for `steps` steps (paper: 1e-2, 500), `restarts` independent starts."""
    points = jnp.asarray(model.domain.check(observation_points, "observation points"))
    observations = jnp.asarray(observations, points.dtype)
    if points.shape[0] == 0:
        raise ValueError("there are no observations to invert")
    if observations.shape != (points.shape[0],):
        raise ValueError(
            f"{points.shape[0]} observation points need observations shaped ({points.shape[0]},), "
            f"got {observations.shape}"
        )
    if restarts < 1 or steps < 1 or relaxed_draws < 1:
        raise ValueError("restarts, steps and relaxed_draws must be positive")
    binary = model.coefficient == "binary"
    draws = relaxed_draws if binary else 1
    scale = jnp.linalg.norm(observations)

    def objective(latent_mlp, model, step_key):
        beta = latent_mlp(jnp.ones(1))[None]
        misfit = jnp.linalg.norm(model.solution(beta, points)[0] - observations) / scale
        key_centres, key_noise = jax.random.split(step_key)

        def coefficient(quadrature):  # (draws, P): relaxed Bernoulli draws of a, or a itself
            logits = model.coefficient_logits(beta, quadrature)  # (1, P)
            if binary:
                noise = jax.random.logistic(key_noise, (draws, logits.shape[1]), logits.dtype)
                logits = logits + noise
            return model.coefficient_from_logits(logits)

        centres = loss.weak_form.sample_centres(key_centres, loss.centres)
        betas = jnp.broadcast_to(beta, (draws, beta.shape[1]))
        pde = loss.pde(model, betas, None, centres, coefficient=coefficient)
        return data_weight * misfit + pde_weight * pde

    optimizer = optax.adam(learning_rate)

    def run(model, init_key):
        latent_mlp = eqx.nn.MLP(  # β = tanh(MLP(1)), [1, 64, 64, L]
            1,
            model.encoder.latent,
            64,
            2,
            activation=jnp.tanh,
            final_activation=jnp.tanh,
            key=init_key,
        )
        params, static = eqx.partition(latent_mlp, eqx.is_array)

        def step(carry, step_key):
            params, state = carry
            value, grads = jax.value_and_grad(
                lambda p: objective(eqx.combine(p, static), model, step_key)
            )(params)
            updates, state = optimizer.update(grads, state)
            return (optax.apply_updates(params, updates), state), value

        keys = jax.random.split(jax.random.fold_in(init_key, 1), steps)
        (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)), keys)
        return eqx.combine(params, static)(jnp.ones(1)), losses

    run_all = eqx.filter_jit(lambda m, keys: jax.vmap(lambda k: run(m, k))(keys))
    beta, losses = run_all(model, jax.random.split(key, restarts))
    grid = jnp.asarray(model.grid_points(), beta.dtype)
    shape = (restarts, *model.grid_shape)
    coefficient = model.decoded_coefficient(beta, grid).reshape(shape)
    solution = model.solution(beta, grid).reshape(shape)
    return InverseResult(
        beta,
        coefficient,
        solution,
        losses,
        coefficient.mean(0),
        coefficient.std(0),
        solution.mean(0),
        solution.std(0),
    )


def observe_on_grid(
    model: DGNO, u: Float[ArrayLike, "n1 n2"], count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`count` distinct interior grid points `(count, 2)` of the model's grid, chosen at random,
    and the values of the field `u` there (noise-free)."""
    u = np.asarray(u).reshape(model.grid_shape)
    n1, n2 = model.grid_shape
    rows, cols = np.meshgrid(np.arange(1, n1 - 1), np.arange(1, n2 - 1), indexing="ij")
    interior = np.stack([rows.ravel(), cols.ravel()], axis=-1)
    if not 0 < count <= len(interior):
        raise ValueError(f"count must be in 1..{len(interior)}, got {count}")
    chosen = interior[rng.choice(len(interior), count, replace=False)]
    points = model.grid_points().reshape(n1, n2, 2)[chosen[:, 0], chosen[:, 1]]
    return points.astype(np.float32), u[chosen[:, 0], chosen[:, 1]].astype(np.float32)
