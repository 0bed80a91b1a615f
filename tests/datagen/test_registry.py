"""The family registry and the one shard driver, through a family a user adds: one `Generator`
subclass and one `register` call reach `generate`, parts, resumption and the command line."""

import dataclasses
from typing import ClassVar

import numpy as np
import pytest

import datagen
from datagen.format import Provenance, list_shards
from jaxsciml import cli
from jaxsciml.data import load


@dataclasses.dataclass(frozen=True)
class Doubling(datagen.Generator):
    """`s = scale · u` for `u` a random vector of `size` values (a toy family)."""

    size: int = 4
    scale: float = 2.0
    name: ClassVar[str] = "doubling"
    summary: ClassVar[str] = "s = scale u for random u (a test family)"
    default_shard_size: ClassVar[int] = 3
    processes: ClassVar[bool] = False
    made: ClassVar[list] = []  # the shards made, in order, by this process

    def provenance(self, seed):
        return Provenance(self.name, {"size": self.size, "scale": self.scale}, "exact", 0.0, seed)

    def grid(self):
        return (np.linspace(0, 1, self.size),)

    def make_shard(self, seed, indices, progress=None):
        Doubling.made.append(tuple(indices))
        u = np.stack([datagen.sample_rng(seed, i).standard_normal((1, self.size)) for i in indices])
        return datagen.ShardContent(u, self.scale * u, tuple(indices), backend="exact")


@pytest.fixture
def doubling():
    family = datagen.register(
        datagen.Family(Doubling.name, Doubling.summary, Doubling, (Doubling,))
    )
    Doubling.made.clear()
    yield family
    del datagen.FAMILIES[family.name]


def test_a_registered_family_generates_in_parts_and_resumes(tmp_path, doubling):
    for part in ((1, 2), (0, 2)):  # two machines, in any order
        report = datagen.generate("doubling", 8, tmp_path, seed=3, part=part, scale=3.0)
        assert report.backend == "exact" and report.shards_skipped == 0
    assert Doubling.made == [(3, 4, 5), (0, 1, 2), (6, 7)]  # shard j on part j % 2
    batch = load(tmp_path).read(np.arange(8))
    for i in range(8):
        u = datagen.sample_rng(3, i).standard_normal((1, 4))
        np.testing.assert_allclose(batch.inputs[i], u, rtol=1e-6)
    np.testing.assert_allclose(batch.outputs, 3.0 * batch.inputs, rtol=1e-6)
    again = datagen.generate("doubling", 8, tmp_path, seed=3, scale=3.0)
    assert (again.shards_written, again.shards_skipped, again.num_samples) == (0, 3, 8)
    assert len(Doubling.made) == 3  # nothing was made twice
    with pytest.raises(datagen.DatasetFileError, match="different dataset"):
        datagen.generate("doubling", 8, tmp_path, seed=3)  # another scale: another dataset
    with pytest.raises(ValueError, match="already registered"):
        datagen.register(doubling)


def test_a_registered_family_is_on_the_command_line_with_its_options(tmp_path, doubling, capsys):
    out = tmp_path / "d"
    arguments = ["datagen", "doubling", "--n", "2", "--out", str(out), "--size", "5", "--quiet"]
    assert cli.main(arguments) == 0
    assert "2 samples" in capsys.readouterr().out
    (header,) = list_shards(out)
    assert header.input_shape == (1, 5) and header.provenance.parameters["scale"] == 2.0


@pytest.mark.parametrize("name", list(datagen.FAMILIES))
def test_every_family_lists_its_options_and_its_quick_version_keeps_the_kind(name):
    family = datagen.family(name)
    generator = family.make()
    names = [f.name for f in family.options()]
    assert len(names) == len(set(names)), names  # a problem field may not shadow a solver field
    quick = generator.quick()
    assert type(quick) is type(generator) and quick.name == generator.name
    assert len(quick.grid()) == len(generator.grid())
    with pytest.raises(ValueError, match="takes no option"):
        family.make(no_such_option=1)
