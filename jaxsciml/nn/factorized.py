"""Low-rank complex weight tensors for the spectral convolution of the tensorized FNO (TFNO).

Kossaifi et al. (MG-TFNO, TMLR 2024) store the Fourier weights `R[i, o, k_1, ..., k_d]` of an FNO
in a factorized form instead of densely:

- Tucker: `R = G ×₁ U_1 ×₂ U_2 ... ×_D U_D`, a small core `G` `(r_1, ..., r_D)` and one factor
  matrix `U_j` `(n_j, r_j)` per tensor axis;
- CP: `R = Σ_r U_1[:, r] ∘ U_2[:, r] ∘ ... ∘ U_D[:, r]`, a sum of `rank` outer products.

All parts are complex, each stored as a real array with a leading axis of 2 (real, imaginary) so
optimizers and checkpoints see real parameters. `rank` is given as the fraction of the dense
tensor's parameters to keep (0.1 keeps about 10%), as in neuraloperator.

A spectral convolution applies such a tensor `R[i, o, *k]` to Fourier coefficients `x[b, i, *k]`
(`y[b, o, *k] = Σ_i R[i, o, *k] x[b, i, *k]`). `contract` does so through the factors, never
forming `R`: the input's channels are projected on the input factor's `r_i` columns, mixed by
the core (its mode axes expanded by their factors, `r_i · r_o` per mode instead of
`in · out`) and expanded by the output factor, in the order `jnp.einsum` finds cheapest. A
joint tensor holds the weights of several layers along a leading axis, `R[l, i, o, *k]`
(MG-TFNO's global factorization); `contract(x, layer=l)` takes layer `l`'s slice through the
layer factor's row `l`.
"""

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Complex, Float, PRNGKeyArray

from jaxsciml.nn import initializers


FACTORIZATIONS = ("tucker", "cp")
_LETTERS = "abcdefgh"
_MODE_LETTERS = "uvwxyz"  # the contraction's mode axes (shared by input, weight and output)


def tucker_ranks(shape: Sequence[int], fraction: float) -> tuple[int, ...]:
    """Per-axis Tucker ranks `⌈s · n_j⌉` with the largest `s ∈ (0, 1]` whose core plus factors
    hold at most `fraction` of `prod(shape)` parameters (at least rank 1 per axis)."""
    budget = fraction * math.prod(shape)

    def ranks(s):
        return tuple(max(1, min(n, math.ceil(s * n))) for n in shape)

    def size(r):
        return math.prod(r) + sum(n * k for n, k in zip(shape, r))

    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if size(ranks(middle)) <= budget else (low, middle)
    return ranks(low)


def cp_rank(shape: Sequence[int], fraction: float) -> int:
    """The CP rank whose factors hold about `fraction` of `prod(shape)` parameters."""
    return max(1, round(fraction * math.prod(shape) / sum(shape)))


def _complex(part: Float[Array, "2 ..."]) -> Complex[Array, "..."]:
    return jax.lax.complex(part[0], part[1])


class FactorizedWeight(eqx.Module):
    """A complex tensor of `shape` in Tucker or CP form; `dense()` rebuilds it.

    Initialized so that the rebuilt complex entries have mean square `scale²` (factor matrices of
    unit-norm columns with `scale` carried by the core, or shared evenly by the CP factors).
    """

    core: Float[Array, "2 ..."] | None
    factors: tuple[Float[Array, "2 n r"], ...]
    kind: str = eqx.field(static=True)
    shape: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        shape: Sequence[int],
        kind: str,
        fraction: float,
        scale: float,
        *,
        key: PRNGKeyArray,
        dtype=None,
    ):
        if kind not in FACTORIZATIONS:
            raise ValueError(f"factorization must be one of {FACTORIZATIONS}, got {kind!r}")
        if not 0 < fraction <= 1:
            raise ValueError(f"rank must be a fraction in (0, 1] of the dense size, got {fraction}")
        if len(shape) > len(_LETTERS):
            raise ValueError(f"at most {len(_LETTERS)} tensor axes, got {len(shape)}")
        dtype = jnp.zeros(()).dtype if dtype is None else dtype
        shape = tuple(int(n) for n in shape)
        key_core, *keys = jax.random.split(key, len(shape) + 1)
        if kind == "tucker":
            ranks = tucker_ranks(shape, fraction)
            self.core = scale * initializers.normal(key_core, (2, *ranks), dtype) / math.sqrt(2)
            self.factors = tuple(
                initializers.normal(k, (2, n, r), dtype) / math.sqrt(2 * r)
                for k, n, r in zip(keys, shape, ranks)
            )
        else:
            rank = cp_rank(shape, fraction)
            # entry std = √rank · s^D for D unit-complex-normal factors of std s each
            s = (scale / math.sqrt(rank)) ** (1 / len(shape))
            self.core = None
            self.factors = tuple(
                s * initializers.normal(k, (2, n, rank), dtype) / math.sqrt(2)
                for k, n in zip(keys, shape)
            )
        self.kind = kind
        self.shape = shape

    def dense(self) -> Complex[Array, "..."]:
        """The full complex tensor, `shape`."""
        axes = _LETTERS[: len(self.shape)]
        factors = [_complex(f) for f in self.factors]
        if self.kind == "tucker":
            ranks = axes.upper()
            operands = ",".join([ranks] + [a + r for a, r in zip(axes, ranks)])
            return jnp.einsum(f"{operands}->{axes}", _complex(self.core), *factors)
        operands = ",".join(a + "z" for a in axes)
        return jnp.einsum(f"{operands}->{axes}", *factors)

    @property
    def num_parameters(self) -> int:
        parts = [f.size for f in self.factors] + ([self.core.size] if self.core is not None else [])
        return int(sum(parts))

    def contract(
        self, x: Complex[Array, " batch in_channels *modes"], layer: int | None = None
    ) -> Complex[Array, " batch out_channels *modes"]:
        """`y[b, o, *k] = Σ_i R[i, o, *k] x[b, i, *k]` through the factors (module docstring);
        for a joint tensor `R[l, i, o, *k]`, the slice of `layer`."""
        joint = layer is not None
        factors = [_complex(f) for f in self.factors]
        if joint:
            factors[0] = factors[0][layer]  # the layer factor's row: (rank,)
        d = len(self.shape) - 2 - joint
        if d > len(_MODE_LETTERS) or x.ndim != d + 2:
            raise ValueError(f"a weight of shape {self.shape} cannot act on {x.shape}")
        modes = _MODE_LETTERS[:d]
        axes = ("l" if joint else "") + "io" + modes
        if self.kind == "tucker":
            ranks = "ABCDEFGHJK"[: len(axes)]  # one rank letter per tensor axis
            # the layer factor's row carries its rank letter alone
            terms = [ranks] + [r if a == "l" else a + r for a, r in zip(axes, ranks)]
            operands = [_complex(self.core), *factors]
        else:
            terms = ["z" if a == "l" else a + "z" for a in axes]
            operands = factors
        spec = ",".join(["bi" + modes, *terms]) + "->bo" + modes
        return jnp.einsum(spec, x, *operands, optimize="optimal")
