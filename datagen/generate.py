"""Every data family by name: `datagen.generate(name, n, out, **options)`, `jaxsciml datagen NAME`.

A family is a `Generator` (its settings are dataclass fields) registered under a name; the linear
families also take the solver settings of `LinearGenerator`. Every family writes through the one
shard driver (`datagen.shards.write_dataset`), so every family resumes, splits into parts and
reports the same way. Adding a family is one `Generator` subclass and one `register` call.
"""

import dataclasses
import os
import sys
from collections.abc import Callable
from typing import Any

from datagen.burgers import Burgers
from datagen.deeponet_data import Antiderivative, DiffusionReaction
from datagen.generator import Generator
from datagen.linear import LinearGenerator
from datagen.problems import PROBLEMS, LinearProblem
from datagen.shards import GenerationReport, write_dataset
from datagen.trajectories import NavierStokes


@dataclasses.dataclass(frozen=True)
class Family:
    """A registered data family.

    **Fields:** `name`; `summary`, one line; `build(**options) -> Generator`; `settings`, the
    dataclasses whose fields are the family's options (in the order they are listed).
    """

    name: str
    summary: str
    build: Callable[..., Generator]
    settings: tuple[type, ...]

    def options(self) -> list[dataclasses.Field]:
        """Every option the family takes, with its default."""
        return [
            f
            for cls in self.settings
            for f in dataclasses.fields(cls)
            if not f.metadata.get("internal")
        ]

    def make(self, **options) -> Generator:
        """The generator for `options`; an unknown option raises with the list of known ones."""
        known = {f.name for f in self.options()}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(
                f"{self.name} takes no option {', '.join(unknown)}; its options: "
                f"{', '.join(f.name for f in self.options())}"
            )
        return self.build(**options)


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Make `family` reachable by name from `generate` and `jaxsciml datagen`."""
    if family.name in FAMILIES:
        raise ValueError(f"a data family named {family.name!r} is already registered")
    FAMILIES[family.name] = family
    return family


def _linear(problem_class: type) -> Family:
    problem_fields = {f.name for f in dataclasses.fields(problem_class)}

    def build(**options) -> LinearGenerator:
        problem = problem_class(**{k: v for k, v in options.items() if k in problem_fields})
        solving = {k: v for k, v in options.items() if k not in problem_fields}
        return LinearGenerator(problem, **solving)

    module_doc = sys.modules[problem_class.__module__].__doc__ or problem_class.name
    summary = module_doc.strip().splitlines()[0]
    return Family(problem_class.name, summary, build, (problem_class, LinearGenerator))


def _generator(cls: type[Generator]) -> Family:
    return Family(cls.name, cls.summary, cls, (cls,))


for _problem in PROBLEMS.values():
    register(_linear(_problem))
for _cls in (NavierStokes, Burgers, Antiderivative, DiffusionReaction):
    register(_generator(_cls))


def family(name: str) -> Family:
    """The registered family `name`; an unknown name raises with the list of known ones."""
    if name not in FAMILIES:
        raise ValueError(f"unknown data family {name!r}; available: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def default_text(field: dataclasses.Field) -> str:
    """A field's default as a person would type it."""
    if field.default is not dataclasses.MISSING:
        return repr(field.default)
    if field.default_factory is not dataclasses.MISSING:
        return repr(field.default_factory())
    return "(required)"


def describe() -> str:
    """Every family with its summary and options (the text of `jaxsciml datagen --help`)."""
    lines = []
    for entry in FAMILIES.values():
        lines.append(f"{entry.name}: {entry.summary}")
        options = [f"{f.name}={default_text(f)}" for f in entry.options()]
        lines.append("    " + " ".join(options))
    return "\n".join(lines)


def generate(
    family_or_generator: str | Generator | LinearProblem,
    n: int,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    shard_size: int | None = None,
    workers: int | None = None,
    part: tuple[int, int] = (0, 1),
    progress: bool = True,
    **options: Any,
) -> GenerationReport:
    """Generate `n` samples of a data family into the shard directory `out` (resumable).

    **Arguments:**

    - `family_or_generator`: a registered name (`datagen.FAMILIES`: `"darcy"`, `"helmholtz"`,
      `"navier_stokes"`, `"burgers"`, `"antiderivative"`, ...) configured by `options` (e.g.
      `resolution=65, solver="direct"`; `jaxsciml datagen --help` lists each family's), or a
      `Generator` object, or a linear problem object (solved with `options` of
      `LinearGenerator`).
    - `n`, `out`, `seed`: how many samples, where, and the base seed (sample `i` is drawn from
      the stream `[seed, i]`).
    - `shard_size`: samples per shard (for the linear families also the length of a recycling
      chain); default: the family's.
    - `workers`: local processes making shards in parallel (default: the CPU count). They are
      spawned, and each imports the main module: a script calls `generate` under
      `if __name__ == "__main__":`.
    - `part`: `(i, N)` makes this call produce only shards `j` with `j % N == i`; every part
      computes the same order, so N machines (or a Slurm array) split the work deterministically.
    - `progress`: show a progress bar.

    **Returns:** a `GenerationReport`.
    """
    if isinstance(family_or_generator, str):
        generator = family(family_or_generator).make(**options)
    elif isinstance(family_or_generator, Generator):
        if options:
            raise TypeError("options are only accepted with a family name or a linear problem")
        generator = family_or_generator
    else:
        generator = LinearGenerator(family_or_generator, **options)
    return write_dataset(
        generator,
        n,
        out,
        seed=seed,
        shard_size=shard_size,
        workers=workers,
        part=part,
        progress=progress,
    )
