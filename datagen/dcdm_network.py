"""The network of DCDM (Kaneda et al., ICML 2023) for 2-D and 3-D grids, its training set and
its training: JAX and equinox, imported only by the `dcdm` backend and by training scripts.

- `DirectionNetwork`: the paper's convolutional network (the paper's is 3-D; `dimensions`
  chooses): a linear 3-point-wide convolution, residual ReLU convolutions at the full
  resolution and after one 2× average pooling, an upsampling that adds the full-resolution
  features back, residual convolutions, and a pointwise linear output. Convolutional, so one
  network serves every grid size.
- `ritz_training_set`: the paper's data: Ritz vectors of a reference matrix (Lanczos from
  `A · noise`), combined with normal weights, nine times larger on the half of the spectrum
  with the smallest Ritz values (and `theta` more), each normalized.
- `dcdm_loss`: the paper's loss, blind to the network's scale: with `q = f(b)` and the best
  multiple `x = q (qᵀb)/(qᵀAq)`, the squared residual `‖b − A x‖²`, averaged.
- `train_direction_network`, `save_network`, `load_network`, `network_direction`.
"""

import functools
import os
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.sparse as sp
from jax.experimental import sparse as jsparse
from jaxtyping import Array, Float


class DirectionNetwork(eqx.Module):
    """`(*grid) -> (*grid)`: an approximate `A⁻¹ r` up to a constant, for `r` on a grid of
    unknowns of `dimensions` axes (row-major, as the matrices of `datagen` number them)."""

    lift: eqx.nn.Conv
    fine: list
    coarse: list
    up: list
    out: eqx.nn.Conv
    features: int = eqx.field(static=True)
    dimensions: int = eqx.field(static=True)

    def __init__(self, features: int = 16, dimensions: int = 2, *, key):
        if dimensions not in (2, 3):
            raise ValueError(f"dimensions must be 2 or 3, got {dimensions}")
        keys = iter(jax.random.split(key, 16))

        def conv(into=features, out=features, width=3):
            return eqx.nn.Conv(dimensions, into, out, width, padding=width // 2, key=next(keys))

        self.features, self.dimensions = features, dimensions
        self.lift = conv(into=1)
        self.fine = [conv() for _ in range(4)]
        self.coarse = [conv() for _ in range(6)]
        self.up = [conv() for _ in range(4)]
        self.out = conv(out=1, width=1)

    @staticmethod
    def _residual_pairs(layers, x):
        for first, second in zip(layers[::2], layers[1::2]):
            x = jax.nn.relu(second(jax.nn.relu(first(x)))) + x
        return x

    def _pool(self, x: Array) -> Array:
        """2× average pooling on every grid axis (an odd axis padded by its last value)."""
        x = jnp.pad(x, [(0, 0)] + [(0, n % 2) for n in x.shape[1:]], mode="edge")
        pairs = [m for n in x.shape[1:] for m in (n // 2, 2)]
        return x.reshape(self.features, *pairs).mean(axis=tuple(range(2, 2 * x.ndim - 1, 2)))

    def __call__(self, r: Float[Array, " *grid"]) -> Float[Array, " *grid"]:
        if r.ndim != self.dimensions:
            raise ValueError(f"this network takes {self.dimensions}-D grids, got {r.shape}")
        x = self.lift(r[None])
        a = jax.nn.relu(self.fine[0](x))
        b = jax.nn.relu(self.fine[1](a))
        a = jax.nn.relu(self.fine[2](b)) + a
        b = jax.nn.relu(self.fine[3](a))  # the full-resolution features
        c = self._residual_pairs(self.coarse, self._pool(b))
        for axis in range(1, c.ndim):
            c = jnp.repeat(c, 2, axis=axis)
        u = c[(slice(None), *(slice(n) for n in r.shape))] + b
        u = self._residual_pairs(self.up, u)
        return self.out(u)[0]


def lanczos_ritz_vectors(matrix, count: int, rng: np.random.Generator):
    """`(values, vectors)`: `count` Ritz pairs of the symmetric `matrix` from `count` Lanczos
    steps (fully reorthogonalized) started from `matrix @ noise`, as the paper starts them;
    `vectors` `(count, n)` rows, values ascending."""
    n = matrix.shape[0]
    count = min(count, n)
    basis = np.zeros((count, n))
    start = matrix @ rng.normal(size=n)
    basis[0] = start / np.linalg.norm(start)
    alphas, betas = np.zeros(count), np.zeros(count)
    for j in range(count):
        w = matrix @ basis[j]
        alphas[j] = basis[j] @ w
        w -= basis[: j + 1].T @ (basis[: j + 1] @ w)
        w -= basis[: j + 1].T @ (basis[: j + 1] @ w)  # twice is enough
        if j + 1 < count:
            betas[j] = np.linalg.norm(w)
            if betas[j] < 1e-12:  # an invariant subspace: the Ritz pairs found so far are exact
                basis, alphas, betas, count = basis[: j + 1], alphas[: j + 1], betas[: j + 1], j + 1
                break
            basis[j + 1] = w / betas[j]
    tridiagonal = np.diag(alphas) + np.diag(betas[: count - 1], 1) + np.diag(betas[: count - 1], -1)
    values, vectors = np.linalg.eigh(tridiagonal)
    return values, vectors.T @ basis


def ritz_training_set(
    matrix, samples: int, *, ritz: int = 300, theta: int | None = None, seed: int = 0
) -> np.ndarray:
    """`(samples, n)` unit right-hand sides built from Ritz vectors of `matrix` (see the module
    docstring); `theta` defaults to `ritz // 20` (the paper: 500 of 10 000)."""
    rng = np.random.default_rng(seed)
    values, vectors = lanczos_ritz_vectors(matrix, ritz, rng)
    vectors = vectors[values > 1e-8 * values.max()]  # no null directions
    theta = len(vectors) // 20 if theta is None else theta
    weights = rng.normal(size=(samples, len(vectors)))
    weights[:, : len(vectors) // 2 + theta] *= 9.0
    rhs = weights @ vectors
    return rhs / np.linalg.norm(rhs, axis=1, keepdims=True)


def dcdm_loss(network: DirectionNetwork, matrix, rhs: jax.Array, shape) -> jax.Array:
    """The paper's loss on a batch `rhs` `(b, n)` (see the module docstring)."""

    def one(b):
        q = network(b.reshape(shape)).reshape(-1)
        aq = matrix @ q
        scale = (q @ b) / (q @ aq)  # x = scale q, so A x = scale A q
        return jnp.sum((b - scale * aq) ** 2)

    return jnp.mean(jax.vmap(one)(rhs))


def train_direction_network(
    matrix: sp.spmatrix,
    shape: tuple[int, ...],
    *,
    samples: int = 2000,
    ritz: int = 300,
    steps: int = 2000,
    batch_size: int = 16,
    learning_rate: float = 1e-3,
    features: int = 16,
    seed: int = 0,
    log=None,
) -> tuple[DirectionNetwork, list[float]]:
    """Train a `DirectionNetwork` on the Ritz training set of the SPD `matrix` (unknowns on a
    grid of `shape`, 2-D or 3-D) with Adam: the network and the loss every 100 steps."""
    data = jnp.asarray(ritz_training_set(matrix, samples, ritz=ritz, seed=seed), jnp.float32)
    operator = jsparse.BCOO.from_scipy_sparse(sp.csr_matrix(matrix, dtype=np.float32))
    network = DirectionNetwork(features, len(shape), key=jax.random.key(seed))
    optimizer = optax.adam(learning_rate)
    state = optimizer.init(eqx.filter(network, eqx.is_inexact_array))

    @eqx.filter_jit
    def step(network, state, rows):
        value, grads = eqx.filter_value_and_grad(dcdm_loss)(network, operator, rows, shape)
        updates, state = optimizer.update(grads, state, eqx.filter(network, eqx.is_inexact_array))
        return eqx.apply_updates(network, updates), state, value

    rng, losses = np.random.default_rng(seed), []
    for i in range(steps):
        rows = data[rng.choice(len(data), batch_size, replace=False)]
        network, state, value = step(network, state, rows)
        if i % 100 == 0 or i == steps - 1:
            losses.append(float(value))
            if log is not None:
                log(f"step {i}: loss {losses[-1]:.4g}")
    return network, losses


def save_network(path: str | os.PathLike, network: DirectionNetwork) -> Path:
    """The network's arrays, width and dimensions in one NPZ file (no pickled code)."""
    leaves = jax.tree.leaves(eqx.filter(network, eqx.is_array))
    arrays = {f"leaf_{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    path = Path(path)
    with open(path, "wb") as f:
        np.savez(f, features=network.features, dimensions=network.dimensions, **arrays)
    return path


def load_network(path: str | os.PathLike) -> DirectionNetwork:
    with np.load(path, allow_pickle=False) as content:
        dimensions = int(content["dimensions"]) if "dimensions" in content.files else 2
        skeleton = DirectionNetwork(int(content["features"]), dimensions, key=jax.random.key(0))
        arrays, static = eqx.partition(skeleton, eqx.is_array)
        leaves, treedef = jax.tree.flatten(arrays)
        stored = [jnp.asarray(content[f"leaf_{i}"]) for i in range(len(leaves))]
    return eqx.combine(jax.tree.unflatten(treedef, stored), static)


@functools.cache
def load_network_once(path: str) -> DirectionNetwork:
    """`load_network`, once per path in a process (every `init` of the backend shares it)."""
    return load_network(path)


def network_direction(network: DirectionNetwork, shape: tuple[int, ...]):
    """`r ↦ q` on NumPy vectors `(n,)` for `datagen.krylov.dcdm`, jitted once per shape."""
    forward = eqx.filter_jit(lambda r: network(r.reshape(shape)).reshape(-1))

    def direction(r: np.ndarray) -> np.ndarray:
        return np.asarray(forward(jnp.asarray(r, jnp.float32)), np.float64)

    return direction
