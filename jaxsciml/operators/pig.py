"""PIG, Physics-Informed Gaussians (Kang, Oh, Hong, Park; ICLR 2025), and the PINN baseline.

PIG replaces a PINN's coordinate input by a learned Gaussian feature embedding. Each of `k`
feature channels is a weighted sum of `N` Gaussians with their own means, per-axis scales and
weights, all trained:

    FE_c(x) = Σ_i w_{c,i} exp(−½ (z − μ_{c,i})ᵀ Σ_{c,i}⁻¹ (z − μ_{c,i})),   c = 1..k,

where `z` is `x` mapped affinely from the domain box onto `[0, grid_range]^d`. The Gaussians
move and reshape during training, an adaptive mesh. A small tanh MLP maps the `k` features to
the solution. Point models take one point `(d,)` and return `(out_channels,)`; `vmap` them, or
use `predict` for many points (chunked, memory-aware).
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from jaxsciml.nn import initializers
from jaxsciml.operators.base import AbstractPointOperator
from jaxsciml.operators.files import recorded
from jaxsciml.physics.domain import Box


def glorot_normal_mlp(
    in_size: int,
    hidden: Sequence[int],
    out_size: int,
    *,
    init: str = "glorot_normal",
    key: PRNGKeyArray,
) -> eqx.nn.MLP:
    """A tanh MLP `in → hidden... → out` with Glorot-normal weights and zero biases (Flax's
    `Dense(kernel_init=glorot_normal())`, as the PIG and SPINN JAX codes build theirs), or with
    `init="uniform"` PyTorch's default `U(±1/√fan_in)` weights and biases (the PIG code's
    PyTorch Helmholtz script)."""
    if init not in ("glorot_normal", "uniform"):
        raise ValueError(f"init must be 'glorot_normal' or 'uniform', got {init!r}")
    hidden = tuple(hidden)
    if not hidden or min(hidden) < 1:
        raise ValueError(f"hidden must list at least one positive width, got {hidden}")
    if len(set(hidden)) != 1:
        raise ValueError(f"the hidden layers must share one width, got {hidden}")
    if init == "uniform":  # equinox's own initialization is PyTorch's
        return eqx.nn.MLP(in_size, out_size, hidden[0], len(hidden), activation=jnp.tanh, key=key)
    mlp = eqx.nn.MLP(
        in_size, out_size, hidden[0], len(hidden), activation=jnp.tanh, key=jax.random.key(0)
    )
    glorot = jax.nn.initializers.glorot_normal()
    keys = jax.random.split(key, len(mlp.layers))
    layers = tuple(
        eqx.tree_at(
            lambda m: (m.weight, m.bias),
            layer,
            (glorot(k, layer.weight.shape), jnp.zeros_like(layer.bias)),
        )
        for layer, k in zip(mlp.layers, keys)
    )
    return eqx.tree_at(lambda m: m.layers, mlp, layers)


def _identity_rotations(channels: int, num_gaussians: int, dim: int) -> Array:
    """Rotation parameters of the identity for every Gaussian: `(k, N, 2)` angle vectors in 2-D,
    `(k, N, 4)` quaternions in 3-D."""
    if dim not in (2, 3):
        raise ValueError(f"full covariance is built for 2-D and 3-D inputs, not {dim}-D")
    identity = jnp.asarray([1.0, 0.0] if dim == 2 else [1.0, 0.0, 0.0, 0.0])
    return jnp.broadcast_to(identity, (channels, num_gaussians, identity.size))


def _rotation(params: Array) -> Array:
    """Rotation matrices from unnormalized parameters: an angle vector `(.., 2)` in 2-D (the
    PIG code's `(cos, sin)` pair) or a quaternion `(.., 4)` in 3-D; `(.., d, d)`."""
    q = params / jnp.linalg.norm(params, axis=-1, keepdims=True)
    if params.shape[-1] == 2:
        c, s = q[..., 0], q[..., 1]
        return jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)
    r, x, y, z = (q[..., i] for i in range(4))
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - r * z), 2 * (x * z + r * y)],
        [2 * (x * y + r * z), 1 - 2 * (x * x + z * z), 2 * (y * z - r * x)],
        [2 * (x * z - r * y), 2 * (y * z + r * x), 1 - 2 * (x * x + y * y)],
    ]
    return jnp.stack([jnp.stack(row, -1) for row in rows], -2)


class GaussianFeatures(eqx.Module):
    """`k` channels of `N` weighted Gaussians each: `(d,) → (k,)` (see the module docstring).

    Parameters: `means` `(k, N, d)` and `scales` `(k, N, d)` in the mapped coordinates
    `z ∈ [0, grid_range]^d`, `weights` `(k, N)`, and with `covariance="full"` a rotation per
    Gaussian, `rotations` `(k, N, 2)` in 2-D or `(k, N, 4)` (a quaternion) in 3-D, so that
    `Σ⁻¹ = L Lᵀ` with `L = R diag(1/σ)`; it starts at the identity (a diagonal Gaussian).
    """

    means: Float[Array, "k n d"]
    scales: Float[Array, "k n d"]
    weights: Float[Array, "k n"]
    rotations: Float[Array, "k n r"] | None
    lower: tuple[float, ...] = eqx.field(static=True)
    upper: tuple[float, ...] = eqx.field(static=True)
    grid_range: float = eqx.field(static=True)

    def __init__(
        self,
        domain: Box,
        channels: int,
        num_gaussians: int,
        *,
        scale: float,
        grid_range: float = 2.0,
        weight_std: float = 1.0,
        covariance: str = "diagonal",
        key: PRNGKeyArray,
    ):
        if channels < 1 or num_gaussians < 1:
            raise ValueError(
                f"channels and num_gaussians must be positive: {channels}, {num_gaussians}"
            )
        if not scale > 0 or not grid_range > 0 or not weight_std >= 0:
            raise ValueError(
                f"scale and grid_range must be positive and weight_std not negative, got "
                f"scale={scale}, grid_range={grid_range}, weight_std={weight_std}"
            )
        if covariance not in ("diagonal", "full"):
            raise ValueError(f"covariance must be 'diagonal' or 'full', got {covariance!r}")
        d = domain.dim
        key_mean, key_weight = jax.random.split(key)
        shape = (channels, num_gaussians, d)
        self.means = initializers.uniform(key_mean, shape, maxval=grid_range)
        self.scales = jnp.full(shape, float(scale))
        self.weights = weight_std * jax.random.normal(key_weight, shape[:2])
        full = covariance == "full"
        self.rotations = _identity_rotations(channels, num_gaussians, d) if full else None
        self.lower, self.upper = tuple(map(float, domain.lower)), tuple(map(float, domain.upper))
        self.grid_range = float(grid_range)

    @property
    def dim(self) -> int:
        return self.means.shape[-1]

    def to_grid(self, x: Float[Array, "... d"]) -> Float[Array, "... d"]:
        """Domain coordinates to the Gaussians' coordinates `[0, grid_range]^d`."""
        lower, upper = jnp.asarray(self.lower), jnp.asarray(self.upper)
        return (x - lower) / (upper - lower) * self.grid_range

    def centres(self) -> Float[Array, "k n d"]:
        """The means in domain coordinates (for plots)."""
        lower, upper = jnp.asarray(self.lower), jnp.asarray(self.upper)
        return lower + self.means / self.grid_range * (upper - lower)

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, " k"]:
        offset = self.to_grid(x) - self.means  # (k, N, d)
        if self.rotations is not None:  # Lᵀ(z − μ) = diag(1/σ) Rᵀ (z − μ)
            offset = jnp.einsum("knij,kni->knj", _rotation(self.rotations), offset)
        quadratic = jnp.sum((offset / self.scales) ** 2, axis=-1)
        return jnp.sum(self.weights * jnp.exp(-0.5 * quadratic), axis=-1)

    def derivatives(
        self, x: Float[Array, " d"]
    ) -> tuple[Float[Array, " k"], Float[Array, "k d"], Float[Array, "k d"]]:
        """The features at `x`, their gradient and the diagonal of their Hessian in domain
        coordinates, in closed form.

        With `o = z − μ`, `a = Σ⁻¹ o` and `g = w exp(−½ oᵀ a)` per Gaussian,
        `∂FE/∂z_j = −Σ_i g_i a_ij` and `∂²FE/∂z_j² = Σ_i g_i (a_ij² − (Σ_i⁻¹)_jj)`; the map onto
        the grid scales axis `j` by `s_j = grid_range / (upper_j − lower_j)`. One pass over the
        `(k, N, d)` offsets, where forward-over-reverse autodiff makes several.
        """
        lower, upper = jnp.asarray(self.lower), jnp.asarray(self.upper)
        stretch = self.grid_range / (upper - lower)  # (d,)
        offset = self.to_grid(x) - self.means  # (k, N, d)
        inverse_variance = 1.0 / self.scales**2  # (k, N, d), along the Gaussians' own axes
        if self.rotations is None:
            precise = offset * inverse_variance  # a = Σ⁻¹ o
            precision_diagonal = inverse_variance
        else:  # Σ⁻¹ = R diag(σ⁻²) Rᵀ
            rotation = _rotation(self.rotations)  # (k, N, d, d)
            rotated = jnp.einsum("knij,kni->knj", rotation, offset) * inverse_variance
            precise = jnp.einsum("knij,knj->kni", rotation, rotated)
            precision_diagonal = jnp.einsum("knij,knj->kni", rotation**2, inverse_variance)
        g = self.weights * jnp.exp(-0.5 * jnp.sum(offset * precise, axis=-1))  # (k, N)
        value = jnp.sum(g, axis=-1)
        first = -jnp.einsum("kn,knd->kd", g, precise) * stretch
        second = jnp.einsum("kn,knd->kd", g, precise**2 - precision_diagonal) * stretch**2
        return value, first, second


@recorded
class PIG(AbstractPointOperator):
    """Physics-Informed Gaussians: `GaussianFeatures` then a tanh MLP; `(d,) → (out_channels,)`.

    **Arguments** (defaults from the paper's JAX scripts):

    - `domain`: the `jaxsciml.physics.Box` the inputs live in; it is mapped onto
      `[0, grid_range]^d`, where the means start uniformly at random.
    - `num_gaussians`: `N` per channel (4000 for flow mixing, 100 for Klein-Gordon, 800 for
      Helmholtz).
    - `scale`: the initial σ of every Gaussian on every axis, in mapped units (0.1 for flow
      mixing and Helmholtz, 0.5 for Klein-Gordon). Must be positive.
    - `channels`: `k`, the feature channels (4).
    - `hidden`: the MLP's hidden widths (one layer of 16).
    - `grid_range`: the extent of the mapped coordinates (2).
    - `weight_std`: the Gaussians' weights start `N(0, weight_std²)` (1 in the JAX code, 0.01 in
      the PyTorch Helmholtz code).
    - `covariance`: `"diagonal"` (the default) or `"full"` (rotated Gaussians, 2-D and 3-D;
      the paper fine-tunes these from a trained diagonal model).
    - `init`: the MLP's initialization, `"glorot_normal"` (the JAX scripts') or `"uniform"`
      (PyTorch's default, the Helmholtz script's).
    """

    arguments: str = eqx.field(static=True, repr=False)  # see `recorded`

    features: GaussianFeatures
    mlp: eqx.nn.MLP
    in_dim: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)

    def __init__(
        self,
        domain: Box,
        num_gaussians: int,
        *,
        scale: float,
        out_channels: int = 1,
        channels: int = 4,
        hidden: Sequence[int] = (16,),
        grid_range: float = 2.0,
        weight_std: float = 1.0,
        covariance: str = "diagonal",
        init: str = "glorot_normal",
        key: PRNGKeyArray,
    ):
        key_features, key_mlp = jax.random.split(key)
        self.features = GaussianFeatures(
            domain,
            channels,
            num_gaussians,
            scale=scale,
            grid_range=grid_range,
            weight_std=weight_std,
            covariance=covariance,
            key=key_features,
        )
        self.mlp = glorot_normal_mlp(channels, hidden, out_channels, init=init, key=key_mlp)
        self.in_dim, self.out_channels = domain.dim, out_channels

    @property
    def domain(self) -> Box:
        return Box(self.features.lower, self.features.upper)

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, " c"]:
        self.check_point(x)
        return self.mlp(self.features(x))

    def derivatives(
        self, x: Float[Array, " d"]
    ) -> tuple[Float[Array, " c"], Float[Array, "c d"], Float[Array, "c d"]]:
        """The model at `x`, its gradient and the diagonal of its Hessian, `(c,)`, `(c, d)`,
        `(c, d)`: the features' in closed form (`GaussianFeatures.derivatives`), then the chain
        rule through the MLP along each axis, `u_j = J φ_j` and `u_jj = J φ_jj + φ_jᵀ H φ_j`,
        as the first two derivatives of `t ↦ MLP(φ + t φ_j + ½ t² φ_jj)` at 0 (nested
        forward mode on the small MLP).

        `jaxsciml.physics.gradient`, `hessian_diagonal`, `laplacian` and `derivative` (orders 1
        and 2) use this for a PIG field: for the Klein-Gordon residual at the paper's size the
        training step is 2.7x faster than forward-over-reverse through the Gaussians.
        """
        self.check_point(x)
        value, first, second = self.features.derivatives(x)

        def along(tangent, curvature):
            def path(t):
                return self.mlp(value + t * tangent + 0.5 * t**2 * curvature)

            def slope(t):
                return jax.jvp(path, (t,), (jnp.ones_like(t),))[1]

            return jax.jvp(slope, (jnp.zeros(()),), (jnp.ones(()),))

        slopes, curvatures = jax.vmap(along, in_axes=1, out_axes=1)(first, second)
        return self.mlp(value), slopes, curvatures

    def with_full_covariance(self) -> "PIG":
        """This model with identity rotations added, to fine-tune rotated Gaussians from a
        trained diagonal model (the paper's Table 5 protocol); its values are unchanged."""
        if self.features.rotations is not None:
            return self
        rotations = _identity_rotations(*self.features.means.shape)
        return eqx.tree_at(
            lambda m: m.features.rotations, self, rotations, is_leaf=lambda x: x is None
        )


@recorded
class PINN(AbstractPointOperator):
    """The PINN baseline: a tanh MLP on the coordinates mapped onto `[-1, 1]^d`, Glorot-normal
    weights, zero biases; `(d,) → (out_channels,)`. `hidden` lists the widths (e.g. four layers
    of 64, `(64,) * 4`)."""

    arguments: str = eqx.field(static=True, repr=False)  # see `recorded`

    mlp: eqx.nn.MLP
    lower: tuple[float, ...] = eqx.field(static=True)
    upper: tuple[float, ...] = eqx.field(static=True)
    in_dim: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)

    def __init__(
        self,
        domain: Box,
        *,
        hidden: Sequence[int] = (64, 64, 64, 64),
        out_channels: int = 1,
        key: PRNGKeyArray,
    ):
        self.mlp = glorot_normal_mlp(domain.dim, hidden, out_channels, key=key)
        self.lower, self.upper = tuple(map(float, domain.lower)), tuple(map(float, domain.upper))
        self.in_dim, self.out_channels = domain.dim, out_channels

    @property
    def domain(self) -> Box:
        return Box(self.lower, self.upper)

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, " c"]:
        self.check_point(x)
        lower, upper = jnp.asarray(self.lower), jnp.asarray(self.upper)
        return self.mlp(2 * (x - lower) / (upper - lower) - 1)
