"""PDE problems in residual form, with their domains, side conditions and exact solutions.

A problem says what a physics-informed loss needs, pointwise: the PDE residual `residual(u, x)`
at an interior point, the boundary residual at a point of the spatial boundary and the initial
residual at a point of the initial slice, each shaped `(r,)` and zero for the true solution.
`u` is a scalar field, a function of one point `x` shaped `(d,)`. Coordinates follow the PIG
code: time first for time-dependent problems, `x = (t, x, y)`.

`exact(x)` is the solution where one is known in closed form: the paper's for Helmholtz,
Klein-Gordon and flow mixing; a manufactured one (stated in each docstring) for nonlinear
diffusion and Poisson, whose paper references are numerical data we do not ship. Allen-Cahn has
none: its reference is a numerical solution (`allen_cahn_reference`).
"""

import abc
import math

import jax.numpy as jnp
from jaxtyping import Array, Float

from jaxsciml.physics.autodiff import Field, derivative, gradient, hessian_diagonal, laplacian
from jaxsciml.physics.domain import Box


class PDE(abc.ABC):
    """A PDE on `domain` with its side conditions; see the module docstring."""

    domain: Box

    @abc.abstractmethod
    def residual(self, u: Field, x: Float[Array, " d"]) -> Float[Array, " r"]:
        """The PDE residual of `u` at an interior point `x`."""

    def boundary_residual(self, u: Field, x: Float[Array, " d"]) -> Float[Array, " r"]:
        """The boundary-condition residual at a point `x` of the spatial boundary; by default
        the Dirichlet condition `u = exact` (override for other conditions)."""
        return (u(x) - self.exact(x)).reshape(1)

    def initial_residual(self, u: Field, x: Float[Array, " d"]) -> Float[Array, " r"]:
        """The initial-condition residual at a point `x` of the initial slice; by default
        `u = exact` there."""
        return (u(x) - self.exact(x)).reshape(1)

    def exact(self, x: Float[Array, " d"]) -> Float[Array, ""]:
        """The exact solution at `x`."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form solution")

    @property
    def has_exact(self) -> bool:
        return type(self).exact is not PDE.exact


def _sin_pi(a, x):
    return jnp.sin(a * math.pi * x)


class Helmholtz(PDE):
    """`Δu + λu = q` on `[-1, 1]²` with `u = 0` on the boundary (PIG, after the LRA paper).

    Exact solution `u = sin(a1 π x0) sin(a2 π x1)` (the PIG code calls `x0` "y"), so
    `q = (λ − π²(a1² + a2²)) u`. The benchmark case is `a1 = 4, a2 = 1, λ = 1`.
    """

    def __init__(self, a1: float = 4.0, a2: float = 1.0, lam: float = 1.0):
        self.a1, self.a2, self.lam = a1, a2, lam
        self.domain = Box([-1.0, -1.0], [1.0, 1.0])

    def exact(self, x):
        return _sin_pi(self.a1, x[0]) * _sin_pi(self.a2, x[1])

    def source(self, x):
        """`q(x)`."""
        return (self.lam - math.pi**2 * (self.a1**2 + self.a2**2)) * self.exact(x)

    def residual(self, u, x):
        return (laplacian(u, x) + self.lam * u(x) - self.source(x)).reshape(1)


class KleinGordon(PDE):
    """`u_tt − Δu + u² = f` for `t ∈ [0, 10]`, `(x, y) ∈ [-1, 1]²` (PIG, after SPINN).

    Exact solution `u = (x + y) cos(k t) + x y sin(k t)`; it is harmonic in space, so
    `f = u² − k² u`. Dirichlet data on the boundary and `u(0) = x + y` (no condition on `u_t`, as
    in the PIG code).
    """

    def __init__(self, k: float = 2.0):
        self.k = k
        self.domain = Box([0.0, -1.0, -1.0], [10.0, 1.0, 1.0], time_axis=0)

    def exact(self, x):
        t, a, b = x
        return (a + b) * jnp.cos(self.k * t) + a * b * jnp.sin(self.k * t)

    def source(self, x):
        v = self.exact(x)
        return v**2 - self.k**2 * v

    def residual(self, u, x):
        u_tt, u_xx, u_yy = hessian_diagonal(u, x)
        return (u_tt - u_xx - u_yy + u(x) ** 2 - self.source(x)).reshape(1)


class FlowMixing(PDE):
    """`u_t + a u_x + b u_y = 0` for `t ∈ [0, 4]`, `(x, y) ∈ [-4, 4]²` (PIG, after SPINN).

    A vortex of angular velocity `ω(r) = sech²(r) tanh(r) / (r v_max)` stirs the field:
    `(a, b) = ω(r)·(−y, x)`, and the exact solution is
    `u = −tanh((y/2) cos(ω t) − (x/2) sin(ω t))`. Dirichlet data and `u(0)` from it.
    """

    def __init__(self, v_max: float = 0.385):
        self.v_max = v_max
        self.domain = Box([0.0, -4.0, -4.0], [4.0, 4.0, 4.0], time_axis=0)

    def angular_velocity(self, x):
        """`ω(r)`, finite at the centre (`tanh(r)/r → 1`)."""
        r = jnp.hypot(x[1], x[2])
        safe = jnp.where(r > 1e-4, r, 1.0)
        tanh_over_r = jnp.where(r > 1e-4, jnp.tanh(safe) / safe, 1.0 - r**2 / 3)
        return tanh_over_r / (jnp.cosh(r) ** 2 * self.v_max)

    def exact(self, x):
        t, a, b = x
        w = self.angular_velocity(x)
        return -jnp.tanh(0.5 * b * jnp.cos(w * t) - 0.5 * a * jnp.sin(w * t))

    def residual(self, u, x):
        w = self.angular_velocity(x)
        u_t, u_x, u_y = gradient(u, x)
        return (u_t - w * x[2] * u_x + w * x[1] * u_y).reshape(1)


class NonlinearDiffusion(PDE):
    """`u_t = ν (|∇u|² + u Δu)` (that is `u_t = (ν/2) Δ(u²)`, a porous-medium equation) for
    `t ∈ [0, 1]`, `(x, y) ∈ [-1, 1]²`, `ν = 0.05` (PIG's equation).

    The paper's reference is numerical data that we do not ship; the exact solution here is
    manufactured: `u = A(t) + r² g(t)` with `g = 1/(1 − 8νt)` and `A = sqrt(g)` solves the
    equation (substitute: both sides equal `8ν r² g² + 4ν A g`). Dirichlet data and `u(0)` from it.
    """

    def __init__(self, nu: float = 0.05):
        self.nu = nu
        self.domain = Box([0.0, -1.0, -1.0], [1.0, 1.0, 1.0], time_axis=0)

    def exact(self, x):
        t, a, b = x
        g = 1.0 / (1.0 - 8 * self.nu * t)
        return jnp.sqrt(g) + (a**2 + b**2) * g

    def residual(self, u, x):
        u_t, *grad = gradient(u, x)
        grad = jnp.stack(grad)
        return (u_t - self.nu * (grad @ grad + u(x) * laplacian(u, x, axes=(1, 2)))).reshape(1)


class AllenCahn(PDE):
    """`u_t − D u_xx + ρ(u³ − u) = 0` for `t ∈ [0, 1]`, `x ∈ [-1, 1]`, periodic in `x`, with
    `u(0, x) = x² cos(πx)`; `D = 1e-4`, `ρ = 5` (the JAX-PI benchmark PIG reports on).

    No closed-form solution: `jaxsciml.physics.allen_cahn_reference` computes the reference on
    the benchmark's grid (Fourier pseudo-spectral Strang splitting). The boundary
    residual pairs each boundary point with its periodic image: `u` and `u_x` must agree.
    """

    def __init__(self, diffusion: float = 1e-4, reaction: float = 5.0):
        self.diffusion, self.reaction = diffusion, reaction
        self.domain = Box([0.0, -1.0], [1.0, 1.0], time_axis=0)

    def residual(self, u, x):
        v = u(x)
        u_t = derivative(u, x, 0)
        u_xx = derivative(u, x, 1, order=2)
        return (u_t - self.diffusion * u_xx + self.reaction * (v**3 - v)).reshape(1)

    def periodic_image(self, x):
        """The point on the opposite face: `x ↦ −x` in space (the domain is `[-1, 1]`)."""
        return x.at[1].set(-x[1])

    def boundary_residual(self, u, x):
        image = self.periodic_image(x)
        return jnp.stack([u(x) - u(image), derivative(u, x, 1) - derivative(u, image, 1)]).reshape(
            2
        )

    def initial_value(self, x):
        """`u(0, x) = x² cos(πx)` at spatial coordinates `x` (any array)."""
        return x**2 * jnp.cos(math.pi * x)

    def initial_residual(self, u, x):
        return (u(x) - self.initial_value(x[1])).reshape(1)


class Poisson(PDE):
    """`−Δu = f` on `[-1, 1]^dim` with Dirichlet data, for any dimension.

    Manufactured solution `u = (1/dim) Σ_i sin(π x_i / 2)`, so `f = (π²/4) u`: smooth, bounded
    and not small in high dimension (a product of sines would vanish there).
    """

    def __init__(self, dim: int = 2):
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim
        self.domain = Box([-1.0] * dim, [1.0] * dim)

    def exact(self, x):
        return jnp.mean(jnp.sin(0.5 * math.pi * x))

    def residual(self, u, x):
        return (-laplacian(u, x) - 0.25 * math.pi**2 * self.exact(x)).reshape(1)


PDES: dict[str, type[PDE]] = {
    "helmholtz": Helmholtz,
    "klein_gordon": KleinGordon,
    "flow_mixing": FlowMixing,
    "nonlinear_diffusion": NonlinearDiffusion,
    "allen_cahn": AllenCahn,
    "poisson": Poisson,
}
"""Every problem by the name a configuration gives it (`[data] pde = {name = "helmholtz"}`)."""
