"""The model registry: every model family by name, with its hyperparameters, the data it trains
on, and its paper's loss and optimizer as defaults.

A family's hyperparameters are its constructor's keyword arguments (names, defaults and
documentation come from the constructor itself, so they cannot drift); the arguments that the
data fix (channels, grid, number of sensors) are filled in from the training set. In a TOML
file, `[model] name = "t1"` plus any hyperparameter builds that family; `jaxsciml models`
lists them all.
"""

import dataclasses
import difflib
import inspect
import math
from collections.abc import Callable

from jaxsciml import operators
from jaxsciml.operators.files import ACTIVATIONS


@dataclasses.dataclass(frozen=True)
class Family:
    """A registered model family.

    - `build`: the constructor (a class or a function).
    - `data`: `"grid"` (pairs of fields, `jaxsciml.data.Dataset`), `"points"` (sensor values
      and query points, `jaxsciml.data.PointDataset`) or `"collocation"` (no dataset: points in
      the domain of a PDE, `jaxsciml.physics.Collocation`, and its physics loss) or `"fields"`
      (the input fields of a grid dataset alone, unlabelled; its solutions only test).
    - `derived`: constructor arguments the training data fix.
    - `loss`, `optimizer`: the paper's defaults (names in `LOSSES` and `OPTIMIZERS`).
    - `fixed`: arguments this family sets (e.g. TFNO's factorization).
    """

    name: str
    build: Callable
    summary: str
    data: str
    derived: tuple[str, ...]
    loss: str
    optimizer: str
    fixed: dict = dataclasses.field(default_factory=dict)

    def hyperparameters(self) -> dict[str, object]:
        """`name -> default` of every argument a configuration may set."""
        hidden = {"key", "dtype", *self.derived, *self.fixed}
        return {
            p.name: None if p.default is inspect.Parameter.empty else p.default
            for p in inspect.signature(self.build).parameters.values()
            if p.name not in hidden and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }

    def arguments(self, table: dict, derived: dict) -> dict:
        """Constructor arguments from a `[model]` table (without `name`) and the data."""
        known = self.hyperparameters()
        arguments = dict(self.fixed)
        for key, value in table.items():
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"unknown key in [model] for {self.name!r}: {key!r}{hint} Known: "
                    f"{', '.join(known)}"
                )
            if isinstance(value, str) and value in ACTIVATIONS and "activation" in key:
                value = ACTIVATIONS[value]
            check_hyperparameter(self.name, key, value, _check_default(self.build, key))
            arguments[key] = value
        missing = [k for k, v in known.items() if v is None and k not in arguments]
        missing = [k for k in missing if _required(self.build, k)]
        if missing:
            raise ValueError(f"[model] {self.name} needs {', '.join(missing)}")
        return {**arguments, **derived}


def _numbers(value) -> list | None:
    """The numbers in a number or a flat list/tuple of numbers (booleans are not numbers)."""
    items = list(value) if isinstance(value, list | tuple) else [value]
    if items and all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
        return items
    return None


def check_hyperparameter(family: str, key: str, value, default) -> None:
    """Refuse a numeric hyperparameter that cannot be meant: not finite, a fraction where the
    default is a whole number, below zero where the default is not, or below one where the
    default is a positive whole number (a width, a depth, a number of modes). `default` is the
    constructor's, or for a required argument annotated with whole numbers only, 1."""
    given = _numbers(value)
    if given is None:
        return
    problem = None
    defaults = _numbers(default) if default is not None else None
    if not all(math.isfinite(v) for v in given):
        problem = "must be finite"
    elif defaults is None:
        pass
    elif all(isinstance(d, int) for d in defaults) and not all(isinstance(v, int) for v in given):
        problem = "must be whole numbers" if len(given) > 1 else "must be a whole number"
    elif all(isinstance(d, int) and d > 0 for d in defaults) and min(given) < 1:
        problem = "must be at least 1"
    elif min(defaults) >= 0 and min(given) < 0:
        problem = "must not be negative"
    if problem:
        raise ValueError(f"[model] {family} {key} {problem}, got {value!r}")


def _check_default(build, name: str):
    """What `check_hyperparameter` compares argument `name` with."""
    parameter = inspect.signature(build).parameters[name]
    if parameter.default is not inspect.Parameter.empty:
        return parameter.default
    annotation = str(parameter.annotation)
    return 1 if "int" in annotation and "float" not in annotation else None


def _required(build, name: str) -> bool:
    return inspect.signature(build).parameters[name].default is inspect.Parameter.empty


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family under its name (an existing name is an error)."""
    if family.name in FAMILIES:
        raise ValueError(f"a model family named {family.name!r} is already registered")
    FAMILIES[family.name] = family
    return family


GRID = ("in_channels", "out_channels")
POINTS = ("sensors", "coordinates", "out_channels")
register(
    Family(
        "fno",
        operators.FNO,
        "Fourier Neural Operator (Li et al., ICLR 2021)",
        "grid",
        GRID,
        "relative_l2",
        "fno_adam",
    )
)
register(
    Family(
        "fno_neuralop",
        operators.FNO.neuralop,
        "neuraloperator 2.0's FNO with its defaults (channel MLPs, soft-gated skips, ...)",
        "grid",
        GRID,
        "relative_l2",
        "fno_adam",
    )
)
register(
    Family(
        "tfno",
        operators.FNO,
        "FNO with Tucker-factorized weights (Kossaifi et al.)",
        "grid",
        GRID,
        "relative_l2",
        "fno_adam",
        {"factorization": "tucker"},
    )
)
register(
    Family(
        "mg_tfno",
        operators.mg_tfno,
        "multigrid patches and a joint Tucker factorization of all Fourier layers (Kossaifi et "
        "al., TMLR 2024)",
        "grid",
        GRID,
        "relative_l2",
        "fno_adam",
    )
)
register(
    Family(
        "t1",
        operators.T1,
        "Transform Once (Poli et al., NeurIPS 2022)",
        "grid",
        (*GRID, "resolution"),
        "relative_l2",  # on physical fields (the paper's frequency loss: [train] loss)
        "adamw_step_decay",  # the kairos configs: AdamW, wd 1e-4, StepLR(100, 0.5)
    )
)
register(
    Family(
        "sfno",
        operators.SFNO,
        "spatiotemporal FNO, frames to frames (Cao et al., Spectral-Refiner, ICLR 2025)",
        "grid",
        ("out_channels",),
        "relative_l2",
        "adam_one_cycle",  # the paper's train.py: Adam, OneCycleLR(div 1e3, final div 1e4)
    )
)
register(
    Family(
        "mgno",
        operators.MgNO,
        "multigrid neural operator (He, Liu, Xu; ICLR 2024)",
        "grid",
        (*GRID, "resolution"),
        "relative_l2",  # the paper's H1 loss: [train] loss = "sobolev" (configs/darcy_mgno.toml)
        "mgno_adam",
    )
)
register(
    Family(
        "deeponet",
        operators.DeepONet,
        "DeepONet (Lu et al., 2021), unstacked",
        "points",
        POINTS,
        "mse",
        "adam",
    )
)
register(Family("multionet", operators.MultiONet, "MultiONet (Zang & Koutsourelakis, 2025)",
                "points", POINTS, "relative_l2", "adam"))  # fmt: skip
register(Family("pig", operators.PIG, "Physics-Informed Gaussians (Kang et al., ICLR 2025)",
                "collocation", ("domain",), "physics", "adam_step_decay"))  # fmt: skip
register(Family("pinn", operators.PINN, "physics-informed MLP (Raissi et al.; the PIG baseline)",
                "collocation", ("domain",), "physics", "adam_step_decay"))  # fmt: skip
register(Family("dgno", operators.DGNO, "deep generative neural operator (Zang & Koutsourelakis, "
                "2025): trains on unlabelled fields and weak-form physics",
                "fields", ("a_samples", "domain"), "dgno", "fno_adam"))  # fmt: skip


def build_operator_ode(
    *,
    vector_field: dict,
    times: list[float],
    in_channels: int,
    out_channels: int,
    time_scale: float = 1.0,
    key,
):
    """An `OperatorODE` whose vector field is any registered grid family: `vector_field` is its
    `[model]`-style table (`{name = "fno", modes = [8, 8], ...}`), `times` the output times (one
    output channel per state channel and time). The data fix the channels: the state has
    `out_channels / len(times)` channels, the inputs hold the coefficient channels followed by
    the initial state."""
    table = dict(vector_field)
    inner = family(str(table.pop("name", "")))
    if inner.data != "grid" or "resolution" in inner.derived:
        raise ValueError(f"vector_field must be a resolution-free grid family, not {inner.name}")
    if out_channels % len(times):
        raise ValueError(f"{out_channels} output channels do not split into {len(times)} times")
    state = out_channels // len(times)
    if in_channels < state:
        raise ValueError(f"{in_channels} input channels cannot hold a state of {state}")
    channels = {"in_channels": in_channels, "out_channels": state}
    field = inner.build(**inner.arguments(table, channels), key=key)
    return operators.OperatorODE(
        field, times, coefficient_channels=in_channels - state, time_scale=time_scale
    )


register(Family("operator_ode", build_operator_ode,
                "a grid operator as the vector field of a neural ODE (diffrax)",
                "grid", GRID, "relative_l2", "adam"))  # fmt: skip


def family(name: str) -> Family:
    if name not in FAMILIES:
        close = difflib.get_close_matches(name, FAMILIES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown model {name!r}{hint} Known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def describe() -> str:
    """Every registered family with its data, defaults and hyperparameters (`jaxsciml models`)."""
    lines = []
    for f in FAMILIES.values():
        lines.append(f"{f.name}: {f.summary}")
        lines.append(f"  data: {f.data} (fills in {', '.join(f.derived)}); "
                     f"loss: {f.loss}; optimizer: {f.optimizer}")  # fmt: skip
        for key, default in f.hyperparameters().items():
            shown = "(required)" if _required(f.build, key) else repr(_shown(default))
            lines.append(f"    {key} = {shown}")
    return "\n".join(lines)


def _shown(default):
    for name, function in ACTIVATIONS.items():
        if default is function:
            return name
    return default
