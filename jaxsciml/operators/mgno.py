"""MgNO: neural operators whose linear operators are multigrid V-cycles (He, Liu, Xu; ICLR 2024).

A layer is `σ(V(u) + W u + b)`: a learned V-cycle `V` (no nonlinearity inside), a parallel
pointwise path `W` with bias `b`, and GELU. There is no lifting or projection network: the first
layer reads the input channels directly and a final 1x1 map without bias gives the outputs.
Boundary conditions enter through the padding mode of every convolution.
"""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from jaxsciml.nn import AbstractGridOperator, PointwiseLinear, gelu, mix_channels
from jaxsciml.nn.convolution import Convolution, Prolongation, check_padding
from jaxsciml.operators.files import recorded


def level_shapes(resolution: Sequence[int], levels: int) -> list[tuple[int, int]]:
    """The grid of each level: stride-2 restriction maps `n` points to `⌈n/2⌉`."""
    shapes = [tuple(int(n) for n in resolution)]
    for _ in range(levels - 1):
        shapes.append(tuple(-(-n // 2) for n in shapes[-1]))
    return shapes


class Smoother(eqx.Module):
    """One smoothing step `u ← u + S ∗ (f − A ∗ u)`: `A` maps the solution space (`c_u`
    channels) to the data space (`c_f`), `S` back; both 3x3."""

    operator: Convolution
    smoother: Convolution

    def __init__(self, c_f: int, c_u: int, padding: str, bias: bool, *, key, dtype):
        key_a, key_s = jax.random.split(key)
        self.operator = Convolution(c_u, c_f, padding=padding, bias=bias, key=key_a, dtype=dtype)
        self.smoother = Convolution(c_f, c_u, padding=padding, bias=bias, key=key_s, dtype=dtype)

    def __call__(self, u: Array, f: Array) -> Array:
        return u + self.smoother(f - self.operator(u))


class VCycle(eqx.Module):
    """A learned multigrid V-cycle from the data space (`c_f` channels) to the solution space
    (`c_u`), the linear operator of an MgNO layer (`MgConv` of the paper's code).

    Level 0: `u = S₀ ∗ f`, then `iterations[0] − 1` smoothing steps. Going down to level `ℓ`:
    `f ← R ∗ f` (3x3, stride 2, `c_f → c_f`), `u ← Π ∗ u` (3x3, stride 2, `c_u → c_u`), then
    `iterations[ℓ]` smoothing steps. Coming up: `u_ℓ ← u_ℓ + Pᵀ ∗ u_{ℓ+1}` with a stride-2
    transposed convolution (kernel 3 where the finer grid has `2m − 1` points, 4 where it has `2m`,
    as in the paper's code for its grids). The output is the finest `u`. Every kernel is its own
    (nothing is shared across levels), and the transfer operators have no bias.
    """

    first: Convolution
    smoothing: tuple[tuple[Smoother, ...], ...]
    restrict_data: tuple[Convolution, ...]
    restrict_solution: tuple[Convolution, ...]
    prolong: tuple[Prolongation, ...]

    def __init__(
        self,
        c_f: int,
        c_u: int,
        resolution: Sequence[int],
        iterations: Sequence[int],
        *,
        padding: str = "zeros",
        bias: bool = False,
        key: PRNGKeyArray,
        dtype=None,
    ):
        levels = len(iterations)
        shapes = level_shapes(resolution, levels)
        keys = iter(jax.random.split(key, 4 * levels + sum(iterations) + 1))
        conv = lambda cin, cout, **kw: Convolution(
            cin, cout, padding=padding, key=next(keys), dtype=dtype, **kw
        )
        self.first = conv(c_f, c_u, bias=bias)
        self.smoothing = tuple(
            tuple(
                Smoother(c_f, c_u, padding, bias, key=next(keys), dtype=dtype)
                for _ in range(count - (1 if level == 0 else 0))
            )
            for level, count in enumerate(iterations)
        )
        self.restrict_data = tuple(conv(c_f, c_f, stride=2) for _ in range(levels - 1))
        self.restrict_solution = tuple(conv(c_u, c_u, stride=2) for _ in range(levels - 1))
        self.prolong = tuple(
            Prolongation(
                c_u,
                c_u,
                3 if shapes[level][0] % 2 else 4,
                periodic=padding == "periodic",
                key=next(keys),
                dtype=dtype,
            )
            for level in range(levels - 1)
        )

    def __call__(self, f: Float[Array, " b c_f n1 n2"]) -> Float[Array, " b c_u n1 n2"]:
        u = self.first(f)
        for smoother in self.smoothing[0]:
            u = smoother(u, f)
        solutions = [u]
        for level in range(1, len(self.smoothing)):
            f = self.restrict_data[level - 1](f)
            u = self.restrict_solution[level - 1](u)
            for smoother in self.smoothing[level]:
                u = smoother(u, f)
            solutions.append(u)
        u = solutions[-1]
        for level in range(len(solutions) - 2, -1, -1):
            fine = solutions[level]
            u = fine + self.prolong[level](u, fine.shape[2:])
        return u


class MgNOLayer(AbstractGridOperator):
    """`σ(V(u) + W u + b)`: a V-cycle plus a 1x1 path with bias, then the activation."""

    cycle: VCycle
    local: PointwiseLinear
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def batched(self, u: Float[Array, " b c_in n1 n2"]) -> Float[Array, " b c_out n1 n2"]:
        return self.activation(self.cycle(u) + self.local.batched(u))


@recorded
class MgNO(AbstractGridOperator):
    """MgNO (He, Liu, Xu; ICLR 2024), the Darcy form of the paper's code (`MgNO_DC`).

    `u = Q σ(L_depth(... σ(L_1(a))))` with `L_i v = V_i(v) + W_i v + b_i`, a multigrid V-cycle
    `V_i` of `levels` levels (`VCycle`), a 1x1 path, GELU, and `Q` a 1x1 map without bias from
    `width` channels to `out_channels`. No lifting: the first V-cycle reads the `in_channels` of
    the input. The padding mode of every convolution sets the boundary condition: `"zeros"`
    (Dirichlet, the Darcy runs), `"periodic"` (the torus: the operator then commutes with
    circular shifts by `2^(levels−1)` cells), `"reflect"`.

    `resolution` is the grid the model is built for: it sets the transposed-convolution kernels
    (3 or 4 per level, as the paper's code chooses them for its grids). The same weights run on
    other grids (every level's shape is recomputed), but MgNO is a multigrid method on cells of
    the grid, not a discretization-invariant operator, so expect it to work best at `resolution`.

    Paper configurations (smoothing iterations `1, 1, 1, 1, 1, 2` on 6 levels, width 24):
    smooth Darcy at 211² with `depth=5`, 678,093 parameters; rough Darcy at 256² with `depth=4`,
    572,661 parameters.
    """

    arguments: str = eqx.field(static=True, repr=False)  # see `recorded`

    layers: tuple[MgNOLayer, ...]
    projection: Float[Array, " out width"]
    in_channels: int = eqx.field(static=True)
    padding: str = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        resolution: Sequence[int],
        width: int = 24,
        depth: int = 5,
        levels: int = 6,
        iterations: Sequence[int] | None = None,
        *,
        padding: str = "zeros",
        smoother_bias: bool = False,
        activation: Callable[[Array], Array] = gelu,
        key: PRNGKeyArray,
        dtype=None,
    ):
        """**Arguments:**

        - `in_channels`, `out_channels`: channels of the input and the output functions.
        - `resolution`: the grid `(n1, n2)` the model is built for.
        - `width`: channels `c_u` of every layer's solution space.
        - `depth`: number of MgNO layers.
        - `levels`: grids of each V-cycle (the coarsest must keep at least 2 points per axis).
        - `iterations`: smoothing steps per level (default `1, ..., 1, 2`, the paper's).
        - `padding`: `"zeros"`, `"periodic"` or `"reflect"`.
        - `smoother_bias`: biases on the smoothing convolutions (the Navier-Stokes runs use them).
        - `activation`, `key`, `dtype`.
        """
        check_padding(padding)
        resolution = tuple(int(n) for n in resolution)
        if len(resolution) != 2:
            raise ValueError(f"MgNO is two-dimensional; got resolution={resolution}")
        if iterations is None:
            iterations = [1] * (levels - 1) + [2]
        iterations = [int(i) for i in iterations]
        if len(iterations) != levels or min(iterations) < 1 or levels < 1:
            raise ValueError(
                f"iterations needs one positive count per level ({levels}), got {iterations}"
            )
        if min(level_shapes(resolution, levels)[-1]) < 2:
            raise ValueError(
                f"{levels} levels coarsen {resolution} below 2 points per axis; use fewer levels"
            )
        if min(width, depth) < 1:
            raise ValueError("width and depth must be positive")
        dtype = jnp.zeros(()).dtype if dtype is None else dtype
        key_q, *keys = jax.random.split(key, depth + 1)
        layers = []
        for i, k in enumerate(keys):
            c_in = in_channels if i == 0 else width
            key_v, key_w = jax.random.split(k)
            cycle = VCycle(
                c_in,
                width,
                resolution,
                iterations,
                padding=padding,
                bias=smoother_bias,
                key=key_v,
                dtype=dtype,
            )
            local = PointwiseLinear(c_in, width, key=key_w, dtype=dtype)
            layers.append(MgNOLayer(cycle, local, activation))
        self.layers = tuple(layers)
        limit = 1.0 / width**0.5
        self.projection = jax.random.uniform(
            key_q, (out_channels, width), dtype, minval=-limit, maxval=limit
        )
        self.in_channels = in_channels
        self.padding = padding

    def batched(self, a: Float[Array, " batch c_in n1 n2"]) -> Float[Array, " batch c_out n1 n2"]:
        """**Arguments:** `a` `(batch, in_channels, n1, n2)`. **Returns:** `(batch, out_channels,
        n1, n2)` on the same grid."""
        if a.ndim != 4 or a.shape[1] != self.in_channels:
            raise ValueError(
                f"this MgNO takes samples shaped (in_channels={self.in_channels}, n1, n2); got a "
                f"sample of shape {a.shape[1:]}."
            )
        levels = len(self.layers[0].cycle.smoothing)
        if min(level_shapes(a.shape[2:], levels)[-1]) < 2:
            raise ValueError(f"a {a.shape[2:]} grid is too coarse for {levels} levels")
        u = a
        for layer in self.layers:
            u = layer.batched(u)
        return mix_channels(self.projection, u)
