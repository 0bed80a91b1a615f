"""DGNO, the deep generative neural operator (Zang & Koutsourelakis, JCP 2025; "DGenNO").

Low-dimensional latent variables `β` encode both the input field `a` and the solution `u` of
`−∇·(a ∇u) = f` with `u = 0` on the boundary:

- an **encoder** maps `a` on its grid to an amortized posterior `q(β | a)`: a Gaussian
  `N(μ(a), diag σ(a)²)` with `μ = tanh(·) ∈ (−1, 1)^L`, or its zero-variance case, the point
  estimate `β = μ(a)` of the released code (`posterior="dirac"`);
- **decoders**, each a `MultiONet` of `(β, x)`, give `p(a | β)` (Bernoulli through a sigmoid for
  two-phase media, Gaussian for continuous `a`), the solution `u(β)(x) = g(x) · v(β, x)` with the
  boundary factor `g` of `Box.vanishing_factor` (zero on the boundary exactly) and, in the mixed
  formulation, the flux `s(β)(x) ≈ a ∇u`;
- physics enters as **virtual observations**: weak residuals with Wendland test functions
  (`jaxsciml.physics.WeakForm`), observed to be zero. Training needs samples of `a` only.

`DGNOLoss` is the training objective for `jaxsciml.fit`; `jaxsciml.operators.dgno_inverse`
infers `β` (hence `a` and `u`) from sparse observations of `u` with the decoders frozen.
"""

import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from jaxsciml.data.dataset import Batch, Dataset, from_arrays
from jaxsciml.data.normalize import GaussianNormalizer
from jaxsciml.nn.activations import silu_id, silu_sin, tanh_sin
from jaxsciml.nn.base import AbstractGridOperator
from jaxsciml.nn.encoders import ConvEncoder
from jaxsciml.nn.frozen import AbstractFrozen
from jaxsciml.operators.deeponet import MultiONet
from jaxsciml.operators.files import recorded
from jaxsciml.physics.domain import Box
from jaxsciml.physics.weak import WeakForm


COEFFICIENTS = ("binary", "continuous")
FORMULATIONS = ("mixed", "primal")
POSTERIORS = ("dirac", "gaussian")
INITIAL_STD = 0.1  # the Gaussian posterior's standard deviation at initialization


class Encoder(eqx.Module):
    """`a` `(1, n₁, n₂)` (normalized) to the posterior's mean `(L,)` and log standard deviation.

    An MLP on the flattened grid (the paper's piecewise-Darcy encoder, `[n_a, 512, 256, L]`), or
    3×3 stride-2 unpadded convolutions followed by an MLP (its smooth-Darcy encoder, channels
    `1 → 64 → 64 → 64` then `[256, 128, 128, L]` on a 29×29 grid); SiLU between layers, `tanh` on
    the mean. The Gaussian posterior doubles the last layer: its second half is `log σ`,
    initialized near `log 0.1`.
    """

    network: ConvEncoder
    latent: int = eqx.field(static=True)
    gaussian: bool = eqx.field(static=True)

    def __init__(
        self,
        grid_shape: tuple[int, int],
        latent: int,
        *,
        conv_channels: Sequence[int] = (),
        hidden: Sequence[int] = (512, 256),
        gaussian: bool = False,
        key: PRNGKeyArray,
    ):
        widths = [*hidden, latent * (2 if gaussian else 1)]
        network = ConvEncoder(grid_shape, [1, *conv_channels], widths, key=key)
        if gaussian:  # small log σ weights, bias log(INITIAL_STD): a narrow posterior to start
            last = network.linears[-1]
            weight = last.weight.at[latent:].multiply(0.01)
            bias = last.bias.at[latent:].set(math.log(INITIAL_STD))
            network = eqx.tree_at(lambda n: (n.linears[-1].weight, n.linears[-1].bias), network,
                                  (weight, bias))  # fmt: skip
        self.network = network
        self.latent, self.gaussian = latent, gaussian

    def __call__(self, a: Float[Array, "1 n1 n2"]) -> tuple[Array, Array | None]:
        z = self.network(a)
        mean = jnp.tanh(z[: self.latent])
        return mean, (z[self.latent :] if self.gaussian else None)


def _decoder(latent: int, width: int, depth: int, num_outputs: int, activations, init, key):
    branch_activation, trunk_activation = activations
    return MultiONet(
        latent,
        2,
        [width] * depth,
        [width] * depth,
        num_outputs=num_outputs,
        activation=branch_activation,
        trunk_activation=trunk_activation,
        init=init,
        key=key,
    )


def _two_values(a: np.ndarray) -> tuple[float, float]:
    values = np.unique(a)
    if values.size != 2:
        raise ValueError(
            f"a binary (two-phase) coefficient takes exactly two values; these samples take "
            f"{values.size} ({values[:5]}...); use coefficient='continuous'"
        )
    return float(values[0]), float(values[1])


class CoefficientScale(AbstractFrozen):
    """`a = offset + span · z`: the two phases of a binary coefficient (`offset` the lower value)
    or the overall mean and standard deviation of a continuous one; constants of the data."""

    offset: Float[Array, ""]
    span: Float[Array, ""]

    def __init__(self, offset: float, span: float):
        self.offset = jnp.asarray(offset, jnp.float32)
        self.span = jnp.asarray(span, jnp.float32)


@recorded
class DGNO(AbstractGridOperator):
    """The DGNO model (see the module docstring) for `a` on a fixed `(n₁, n₂)` grid over a 2-D
    box.

    Called on `a` `(1, n₁, n₂)` (or through `batched`), it returns the solution `u` at the grid
    points from the posterior mean, so `jaxsciml.evaluate` and `fit(eval_data=...)` measure it
    against solved data; `solution(β, points)` evaluates `u` anywhere.

    **Arguments:**

    - `a_samples`: `(N, 1, n₁, n₂)` training inputs: they fix the grid, the encoder's
      normalization (pointwise mean and standard deviation) and, for a binary coefficient, its
      two values (taken from the data).
    - `coefficient`: `"binary"` (two-phase media: Bernoulli likelihood, mixed formulation,
      MLP encoder, coefficient decoder width 256, as the paper's piecewise Darcy) or
      `"continuous"` (Gaussian likelihood on `a` standardized by its overall mean and standard
      deviation, primal formulation, CNN encoder, width 100).
    - `formulation`: `"mixed"` (flux decoders, `s ≈ a∇u`) or `"primal"`; default by
      `coefficient`.
    - `posterior`: `"dirac"` (point estimate) or `"gaussian"` (amortized Gaussian, KL to the
      standard normal prior).
    - `latent`: `L`, the size of `β` (paper: 128).
    - `depth`, `width`, `num_outputs`: every decoder's MultiONet has `depth` layers of `width`
      (the coefficient decoder `coefficient_width`) and combines the last `num_outputs`
      (paper: 5, 100, 4).
    - `encoder`: `"mlp"` or `"cnn"` (see `Encoder`); default by `coefficient`.
    - `domain`: the box `a` is sampled on, corners included (default the unit square).
    - `init`: the decoders' linear initialization (`MultiONet`'s): `"uniform"` (PyTorch's
      default, which the DGenNO code keeps) or `"glorot_normal"`. The encoder's is uniform.

    The smooth configuration's decoder widths are not in our notes of the paper: with width 100
    for both decoders it has 328k parameters against the 369k the reference notebook prints.
    """

    arguments: str = eqx.field(static=True, repr=False)  # see `recorded`

    normalizer: GaussianNormalizer
    encoder: Encoder
    a_decoder: MultiONet
    u_decoder: MultiONet
    flux_decoders: tuple[MultiONet, ...]
    grid_shape: tuple[int, int] = eqx.field(static=True)
    lower: tuple[float, float] = eqx.field(static=True)
    upper: tuple[float, float] = eqx.field(static=True)
    coefficient: str = eqx.field(static=True)
    coefficient_scale: CoefficientScale

    def __init__(
        self,
        a_samples: ArrayLike,
        *,
        coefficient: str = "binary",
        formulation: str | None = None,
        posterior: str = "dirac",
        latent: int = 128,
        depth: int = 5,
        width: int = 100,
        coefficient_width: int | None = None,
        num_outputs: int = 4,
        encoder: str | None = None,
        domain: Box | None = None,
        init: str = "uniform",
        key: PRNGKeyArray,
    ):
        binary = coefficient == "binary"
        formulation = formulation or ("mixed" if binary else "primal")
        encoder = encoder or ("mlp" if binary else "cnn")
        for name, value, allowed in [
            ("coefficient", coefficient, COEFFICIENTS),
            ("formulation", formulation, FORMULATIONS),
            ("posterior", posterior, POSTERIORS),
            ("encoder", encoder, ("mlp", "cnn")),
        ]:
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        a_samples = np.asarray(a_samples, np.float64)
        if a_samples.ndim != 4 or a_samples.shape[1] != 1 or a_samples.shape[0] < 2:
            raise ValueError(f"a_samples must be (N >= 2, 1, n1, n2), got {a_samples.shape}")
        domain = Box([0.0, 0.0], [1.0, 1.0]) if domain is None else domain
        if domain.dim != 2 or domain.time_axis is not None:
            raise ValueError(f"DGNO is built for stationary 2-D boxes, not {domain!r}")
        if binary:
            low, high = _two_values(a_samples)
            self.coefficient_scale = CoefficientScale(low, high - low)
        else:
            self.coefficient_scale = CoefficientScale(a_samples.mean(), a_samples.std())
        mean, std = a_samples.mean(axis=0), a_samples.std(axis=0, ddof=1)
        self.normalizer = GaussianNormalizer(
            jnp.asarray(mean, jnp.float32), jnp.asarray(std, jnp.float32)
        )
        self.grid_shape = tuple(a_samples.shape[2:])
        self.lower, self.upper = tuple(map(float, domain.lower)), tuple(map(float, domain.upper))
        self.coefficient = coefficient
        k_enc, k_a, k_u, k_s1, k_s2 = jax.random.split(key, 5)
        self.encoder = Encoder(
            self.grid_shape,
            latent,
            conv_channels=(64, 64, 64) if encoder == "cnn" else (),
            hidden=(128, 128) if encoder == "cnn" else (512, 256),
            gaussian=posterior == "gaussian",
            key=k_enc,
        )
        a_width = coefficient_width or (256 if binary else width)
        a_activations = (silu_id, silu_sin) if binary else (tanh_sin, tanh_sin)
        decoder = lambda width, activations, key: _decoder(  # noqa: E731
            latent, width, depth, num_outputs, activations, init, key
        )
        self.a_decoder = decoder(a_width, a_activations, k_a)
        u_activations = (tanh_sin, tanh_sin)
        self.u_decoder = decoder(width, u_activations, k_u)
        self.flux_decoders = (
            tuple(decoder(width, u_activations, k) for k in (k_s1, k_s2))
            if formulation == "mixed"
            else ()
        )

    @property
    def a_offset(self) -> Array:
        return self.coefficient_scale.offset

    @property
    def a_span(self) -> Array:
        return self.coefficient_scale.span

    # --- geometry -----------------------------------------------------------------------------
    @property
    def domain(self) -> Box:
        return Box(self.lower, self.upper)

    @property
    def formulation(self) -> str:
        return "mixed" if self.flux_decoders else "primal"

    @property
    def gaussian(self) -> bool:
        return self.encoder.gaussian

    def grid_points(self) -> np.ndarray:
        """The points of `a`'s grid `(n₁ n₂, 2)`, in the order of a flattened field."""
        return self.domain.grid(self.grid_shape)

    def _check_fields(self, a: Array) -> None:
        if a.ndim != 4 or a.shape[1:] != (1, *self.grid_shape):
            raise ValueError(
                f"a must be (batch, 1, {self.grid_shape[0]}, {self.grid_shape[1]}), got {a.shape}"
            )

    # --- the encoder --------------------------------------------------------------------------
    def encode(self, a: Float[Array, "B 1 n1 n2"]) -> tuple[Array, Array | None]:
        """The posterior of every sample: means `(B, L)` and log standard deviations `(B, L)`
        (`None` for the point estimate)."""
        self._check_fields(a)
        return jax.vmap(self.encoder)(self.normalizer.encode(a))

    # --- the decoders -------------------------------------------------------------------------
    def solution(self, beta: Float[Array, "B L"], points: Float[Array, "P 2"]) -> Array:
        """`u(β)(x)` `(B, P)`: the decoder times the boundary factor."""
        factor = self.domain.vanishing_factor(points)
        return self.u_decoder.batched(beta, points)[..., 0] * factor

    def solution_and_gradient(
        self, beta: Float[Array, "B L"], points: Float[Array, "P 2"]
    ) -> tuple[Float[Array, "B P"], Float[Array, "B P 2"]]:
        """`u` and `∇u` at shared points, the trunk differentiated once for the whole batch."""
        v, dv = self.u_decoder.batched_with_gradient(beta, points)
        v, dv = v[..., 0], dv[..., 0, :]
        factor = self.domain.vanishing_factor(points)
        d_factor = jax.vmap(jax.grad(self.domain.vanishing_factor))(points)
        return factor * v, factor[:, None] * dv + d_factor * v[..., None]

    def flux(self, beta: Float[Array, "B L"], points: Float[Array, "P 2"]) -> Array:
        """The mixed formulation's flux `s(β)(x)` `(B, P, 2)`."""
        if not self.flux_decoders:
            raise ValueError("a primal-formulation DGNO has no flux decoders")
        return jnp.stack([s.batched(beta, points)[..., 0] for s in self.flux_decoders], axis=-1)

    def coefficient_logits(self, beta: Float[Array, "B L"], points: Float[Array, "P 2"]) -> Array:
        """The coefficient decoder's raw output `(B, P)`: the Bernoulli logit of the high phase
        (binary) or the standardized `a` (continuous)."""
        return self.a_decoder.batched(beta, points)[..., 0]

    def coefficient_from_logits(self, logits: Array) -> Array:
        """`a` from the decoder's output: `low + (high − low) σ(logit)` (the mean of the binary
        likelihood) or `mean + std · z`."""
        z = jax.nn.sigmoid(logits) if self.coefficient == "binary" else logits
        return self.a_offset + self.a_span * z

    def decoded_coefficient(self, beta: Float[Array, "B L"], points: Float[Array, "P 2"]):
        """`a(β)(x)` `(B, P)` (for binary media the likelihood's mean)."""
        return self.coefficient_from_logits(self.coefficient_logits(beta, points))

    def lookup_coefficient(self, a: Float[Array, "B 1 n1 n2"], points: Float[Array, "P 2"]):
        """The given fields `a` at arbitrary points `(B, P)`: the nearest grid value for binary
        media (as the DGenNO code), bilinear interpolation for continuous ones."""
        lower, upper = np.asarray(self.lower), np.asarray(self.upper)
        index = (points - lower) / (upper - lower) * (np.asarray(self.grid_shape) - 1)
        order = 0 if self.coefficient == "binary" else 1
        sample = lambda field: jax.scipy.ndimage.map_coordinates(
            field, list(index.T), order=order, mode="nearest"
        )
        return jax.vmap(sample)(a[:, 0])

    # --- the operator on grids ----------------------------------------------------------------
    def batched(self, a: Float[Array, "B 1 n1 n2"]) -> Float[Array, "B 1 n1 n2"]:
        """`u` on `a`'s grid from each sample's posterior mean."""
        beta, _ = self.encode(a)
        u = self.solution(beta, jnp.asarray(self.grid_points(), beta.dtype))
        return u.reshape(a.shape)

    def reconstruct(self, a: Float[Array, "B 1 n1 n2"]) -> Float[Array, "B 1 n1 n2"]:
        """The decoded `a` on its grid from each sample's posterior mean."""
        beta, _ = self.encode(a)
        return self.decoded_coefficient(beta, jnp.asarray(self.grid_points(), beta.dtype)).reshape(
            a.shape
        )


def unlabelled(
    a_samples: Float[ArrayLike, "N 1 n1 n2"], grid: tuple[np.ndarray, ...] | None = None
) -> Dataset:
    """A training set of coefficient fields alone, for `fit` with a `DGNOLoss`: its outputs have
    zero channels `(N, 0, n₁, n₂)`, so there is no solution a loss could read. `grid`: the
    coordinates of each axis (default: the unit square's)."""
    a_samples = np.asarray(a_samples, np.float32)
    empty = np.zeros((a_samples.shape[0], 0, *a_samples.shape[2:]), np.float32)
    return from_arrays(a_samples, empty, grid)


def kl_to_standard_normal(mean: Array, log_std: Array) -> Float[Array, " B"]:
    """`KL(N(μ, diag σ²) ‖ N(0, I))` of every row: `½ Σ (μ² + σ² − 1 − 2 log σ)`."""
    return 0.5 * jnp.sum(mean**2 + jnp.exp(2 * log_std) - 1.0 - 2.0 * log_std, axis=-1)


class DGNOLoss:
    """The DGNO training objective for `fit`, `loss(model, batch, key)`, from `batch.inputs`
    (samples of `a`) alone:

        data_weight · reconstruction(a) + pde_weight · weak residuals + kl_weight · KL.

    - **Reconstruction**, the negative log-likelihood of `a` at its grid points: the binary
      cross-entropy of the high phase (binary), or the mean squared error of the standardized
      `a` (continuous, a Gaussian of unit variance in those units), averaged over points.
    - **Weak residuals** at `centres` test functions drawn per step (Latin hypercube), with
      the true `a` looked up at the quadrature points and source `f`, reduced as the DGenNO
      code does:
      - mixed: `mean ‖s − a∇u‖²` over quadrature points `+ √n_c · mean r_j²`;
      - primal: `mean_b ‖r_b‖₂ + Σ` of the `top_k` largest `r²` of the batch (default `10 n_c`).
    - **KL** (Gaussian posterior only): `KL(q(β|a) ‖ N(0, I))`, per sample, averaged; `β` is one
      reparameterized draw per sample and step. The default weight `1 / (n₁ n₂)` puts it on the
      scale of the per-point reconstruction. The point estimate has no KL term.

    **Arguments:** `weak_form` (a `jaxsciml.physics.WeakForm` on the model's domain), `source`
    (`f`, a number or a function of a point), `centres` (`n_c`, default 100), `data_weight`,
    `pde_weight` (default 1 and 1), `kl_weight`, `top_k`.
    """

    def __init__(
        self,
        weak_form: WeakForm,
        *,
        source: float | Callable[[Array], Array] = 10.0,
        centres: int = 100,
        data_weight: float = 1.0,
        pde_weight: float = 1.0,
        kl_weight: float | None = None,
        top_k: int | None = None,
    ):
        if weak_form.domain.dim != 2:
            raise ValueError("DGNO's weak form must be on a 2-D box")
        if centres < 1:
            raise ValueError(f"centres must be positive, got {centres}")
        self.weak_form, self.source, self.centres = weak_form, source, centres
        self.data_weight, self.pde_weight = data_weight, pde_weight
        self.kl_weight, self.top_k = kl_weight, 10 * centres if top_k is None else top_k

    def __call__(self, model: DGNO, batch: Batch, key: PRNGKeyArray) -> Float[Array, ""]:
        terms = self.terms(model, batch, key)
        total = self.data_weight * terms["reconstruction"] + self.pde_weight * terms["pde"]
        if model.gaussian:
            kl_weight = self.kl_weight
            if kl_weight is None:
                kl_weight = 1.0 / math.prod(model.grid_shape)
            total = total + kl_weight * terms["kl"]
        return total

    def terms(self, model: DGNO, batch: Batch, key: PRNGKeyArray) -> dict[str, Array]:
        """The unweighted parts: `reconstruction`, `pde` and `kl` (zero for the point estimate)."""
        a = batch.inputs
        key_latent, key_centres = jax.random.split(key)
        mean, log_std = model.encode(a)
        if log_std is None:
            beta, kl = mean, jnp.zeros(())
        else:
            noise = jax.random.normal(key_latent, mean.shape, mean.dtype)
            beta = mean + jnp.exp(log_std) * noise
            kl = jnp.mean(kl_to_standard_normal(mean, log_std))
        return {
            "reconstruction": self.reconstruction(model, beta, a),
            "pde": self.pde(
                model, beta, a, self.weak_form.sample_centres(key_centres, self.centres)
            ),
            "kl": kl,
        }

    def reconstruction(self, model: DGNO, beta: Array, a: Array) -> Float[Array, ""]:
        """The negative log-likelihood of the fields `a` under `p(a | β)`, per grid point."""
        logits = model.coefficient_logits(beta, jnp.asarray(model.grid_points(), beta.dtype))
        target = (a.reshape(a.shape[0], -1) - model.a_offset) / model.a_span
        if model.coefficient == "binary":
            return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, target))
        return jnp.mean((logits - target) ** 2)

    def pde(
        self,
        model,
        beta: Array,
        a: Array | None,
        centres: Float[Array, "n 2"],
        coefficient: Callable[[Array], Array] | None = None,
    ) -> Float[Array, ""]:
        """The weak-residual loss of the solutions `u(β)` of `model` (a `DGNO`, or anything with
        its `formulation`, `solution_and_gradient`, `flux` and `lookup_coefficient`), with `a`
        the given fields (looked up at the quadrature points) or, if given, `coefficient(points)`
        `(B, P)` at the quadrature points `(P, 2)` (the inverse problem's decoded `a`)."""
        tests = self.weak_form.test_functions(centres)
        n, q, d = tests.points.shape
        points = tests.points.reshape(n * q, d)
        if coefficient is None:
            coefficient = lambda x: model.lookup_coefficient(a, x)
        coefficient = coefficient(points)
        _, grad_u = model.solution_and_gradient(beta, points)
        darcy_flux = coefficient[..., None] * grad_u  # (B, n q, d)
        source = jax.vmap(lambda x: jnp.broadcast_to(self._source(x), ()))(points).reshape(n, q)
        shape = (beta.shape[0], n, q, d)
        if model.formulation == "mixed":
            s = model.flux(beta, points)
            link = jnp.mean(jnp.sum((s - darcy_flux) ** 2, axis=-1))
            r = self.weak_form.residuals(tests, s.reshape(shape), source)
            return link + math.sqrt(n) * jnp.mean(r**2)
        r = self.weak_form.residuals(tests, darcy_flux.reshape(shape), source)
        largest = jax.lax.top_k(r.reshape(-1) ** 2, min(self.top_k, r.size))[0]
        return jnp.mean(jnp.linalg.norm(r, axis=-1)) + jnp.sum(largest)

    def _source(self, x: Array) -> Array:
        return self.source(x) if callable(self.source) else jnp.asarray(self.source, x.dtype)
