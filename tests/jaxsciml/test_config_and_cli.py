"""Configuration files, the command line and runs trained from them."""

import re
from pathlib import Path

import jax
import numpy as np
import pytest

from datagen.format import read_header
from jaxsciml import cli, config as jconfig, registry
from jaxsciml.config import ConfigError


CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.toml"))


def test_defaults_and_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[data]\npath = "d"\nn_train = 8\n[model]\nwidth = 16\nmodes = [4, 4]\n')
    config = jconfig.load(path, ["train.epochs=3", "train.learning_rate=1e-2", "model.padding=0"])
    assert (config.data.n_train, config.model["width"], config.model["modes"]) == (8, 16, [4, 4])
    assert (config.train.epochs, config.train.learning_rate, config.model["padding"]) == (
        3,
        0.01,
        0,
    )
    assert config.train.batch_size == 20  # untouched default


@pytest.mark.parametrize(
    "text, match",
    [
        (
            "[model]\nwidht = 3\n",
            "unknown key in \\[model\\] for 'fno': 'widht'; did you mean 'width'",
        ),
        ("[model]\nname = 'fnoo'\n", "unknown model 'fnoo'; did you mean 'fno'"),
        ("[model]\nname = 'deeponet'\n", "deeponet needs branch_widths, trunk_widths"),
        ("[train]\noptimizer = 'sgd'\n", "optimizer must be one of"),
        ("[modle]\nwidth = 3\n", "unknown table 'modle'; did you mean 'model'"),
        ("[train]\nepochs = 'many'\n", "epochs must be a int"),
        ("[data]\nnormalize = 'l2'\n", "normalize must be one of"),
        ("[train\n", "not valid TOML"),
        ("[data]\ngenerate = { resolution = 9 }\n", "generate needs a name, one of darcy"),
        ("[data]\ngenerate = { name = 'stokes' }\n", "unknown data family 'stokes'"),
        ("[data]\ngenerate = { name = 'darcy', frames = 2 }\n", "darcy takes no option frames"),
        ("[data]\ngenerate = { name = 'darcy', resolution = 2 }\n", "at least 4"),
        ("[data]\nsensors = ':, x'\n", "sensors must be an index"),
        ("[model]\nname = 'pinn'\n", "pinn learns from a PDE"),
        ("[model]\nname = 'pinn'\n[data]\npde = {name = 'helmholz'}\n", "did you mean 'helmholtz'"),
        ("[model]\nname = 'pinn'\n[data]\npde = {name = 'poisson', a = 1}\n", "pde poisson"),
        ("[data]\ncollocation = {points = 3}\n", "unknown key in \\[data\\] collocation"),
        # numbers that cannot be meant: refused before anything is written
        ("[train]\nlearning_rate = nan\n", "learning_rate must be in"),
        ("[train]\nlearning_rate = -1e-3\n", "learning_rate must be in"),
        ("[train]\ndecay_rate = 1.5\n", "decay_rate must be in"),
        ("[train]\nweight_decay = inf\n", "weight_decay must be in"),
        ("[train]\ndecay_every_epochs = 0\n", "decay_every_epochs must be in"),
        ("[train]\nseed = -1\n", "seed must be in"),
        ("[data]\nn_test = -1\n", "n_test must be in"),
        ("[data]\npoints_per_step = -5\n", "points_per_step must be in"),
        ("[data]\ncollocation = {interior = 0}\n", "interior must be at least 1"),
        ("[model]\nwidth = 0\n", "fno width must be at least 1"),
        ("[model]\nwidth = 2.5\n", "fno width must be a whole number"),
        ("[model]\nmodes = [0, 4]\n", "fno modes must be at least 1"),
        ("[model]\npadding = nan\n", "fno padding must be finite"),
        ("[model]\npadding = -0.1\n", "fno padding must not be negative"),
        ("[data]\ngenerate = { name = 'helmholtz', wavenumber = nan }\n", "must be finite"),
        ("[data]\ngenerate = { name = 'navier_stokes', resolution = 0 }\n", "at least 4"),
        ("[data]\ngenerate = { name = 'antiderivative', length_scale = -1.0 }\n", "positive"),
    ],
)
def test_bad_configurations_are_named(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        jconfig.load(path)


@pytest.mark.parametrize(
    "words, match",
    [
        (["train", "--run-dir", "r", "--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["evaluate", "r", "d", "--stride", "0"], "--stride: must be at least 1"),
        (["evaluate", "r", "d", "--skip", "-1"], "--skip: must be at least 0"),
        (["datagen", "darcy", "--n", "0", "--out", "o"], "--n: must be at least 1"),
        (["datagen", "darcy", "--n", "4", "--out", "o", "--shard-size", "x"], "not a whole"),
        (["demo", "--n-train", "0"], "--n-train: must be at least 1"),
    ],
)
def test_a_given_flag_is_checked_never_ignored(words, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        cli.main(words)
    assert exit_.value.code == 2 and re.search(match, capsys.readouterr().err)
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_jax_family_refuses_worker_processes_before_writing(tmp_path):
    import datagen

    with pytest.raises(ValueError, match="navier_stokes runs in this process"):
        datagen.generate(
            "navier_stokes", 2, tmp_path / "ns", workers=4, resolution=8, stored_resolution=8
        )
    assert not (tmp_path / "ns").exists()


def test_sensor_indices_read_as_numpy_indices():
    assert jconfig.parse_index(":, 0") == (slice(None), 0)
    assert jconfig.parse_index("::2, 1:-1") == (slice(None, None, 2), slice(1, -1))
    assert jconfig.parse_index("  ") == ()


def test_train_makes_the_configured_data_first_and_reuses_it(tmp_path):
    from jaxsciml.experiment import ensure_data, train

    data, run = tmp_path / "ad", tmp_path / "run"
    text = f"""
[data]
path = "{data}"
generate = {{ name = "antiderivative", sensors = 16, fine = 200 }}
n_train = 8
n_test = 8
[model]
name = "deeponet"
branch_widths = [8]
trunk_widths = [8]
[train]
epochs = 1
batch_size = 8
"""
    path = tmp_path / "c.toml"
    path.write_text(text)
    config = jconfig.load(path)
    _, history = train(config, run, progress=False)
    header = read_header(data / "shard-00000.h5")
    assert header.num_samples_total == 16 and header.input_shape == (1, 16)
    made = (data / "shard-00000.h5").stat().st_mtime_ns
    train(config, tmp_path / "again", progress=False)
    assert (data / "shard-00000.h5").stat().st_mtime_ns == made  # complete data are not remade
    other = jconfig.load(path)
    other.data.generate = {**other.data.generate, "sensors": 12}
    with pytest.raises(ConfigError, match="not the \\[data\\] generate table's antiderivative"):
        ensure_data(other)  # complete data from other settings are refused, not reused
    assert [r["epoch"] for r in history] == [1] and "test.relative_l2" in history[-1]


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        jconfig.load(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="section.key=value"):
        jconfig.load(None, ["epochs=3"])


def test_cli_reports_errors_without_a_traceback(tmp_path, capsys):
    assert cli.main(["evaluate", str(tmp_path), str(tmp_path)]) == 2
    assert "not a training run" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\ndepht = 2\n")
    assert cli.main(["train", str(bad), "--run-dir", str(tmp_path / "r")]) == 2
    assert "did you mean 'depth'" in capsys.readouterr().err


def test_shipped_configurations_parse():
    from jaxsciml import registry

    assert len(CONFIGS) >= 6
    for path in CONFIGS:
        config = jconfig.load(path)
        assert config.model["name"] in registry.FAMILIES


def test_cli_datagen_passes_solver_problem_and_part_options(tmp_path, capsys):
    out = tmp_path / "h"
    arguments = ["datagen", "helmholtz", "--n", "4", "--resolution", "25", "--out", str(out)]
    arguments += ["--solver", "skr", "--preconditioner", "jacobi", "--option", "contrast=0.3"]
    arguments += ["--shard-size", "2", "--shard", "1", "--num-shards", "2", "--workers", "1"]
    assert cli.main(arguments) == 0
    printed = capsys.readouterr().out
    assert "2 samples" in printed and "(skr)" in printed
    (only,) = sorted(out.glob("shard-*.h5"))  # this machine's share: shard 1 of 2
    assert only.name == "shard-00001.h5"
    header = read_header(only)
    assert header.provenance.parameters["contrast"] == 0.3 and header.provenance.solver == "skr"


def test_cli_datagen_navier_stokes_takes_its_settings_as_options(tmp_path, capsys):
    out = tmp_path / "ns"
    arguments = ["datagen", "navier_stokes", "--n", "2", "--resolution", "16", "--out", str(out)]
    arguments += ["--stored-resolution", "8", "--frames", "2", "--option", "frame_interval=0.01"]
    arguments += ["--time-step", "0.005", "--quiet"]
    assert cli.main(arguments) == 0
    assert "2 samples" in capsys.readouterr().out
    header = read_header(out / "shard-00000.h5")
    assert header.input_shape == (1, 8, 8) and header.output_shape == (2, 8, 8)
    assert header.provenance.parameters["resolution"] == 16


@pytest.mark.slow
@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_configuration_passes_check(path, one_device):
    """`check` on one device (it compiles for every device the machine has; the sharded step
    is tested in test_contract.py, the command itself below)."""
    from jaxsciml.experiment import check

    record = check(jconfig.load(path), mesh=one_device)
    assert record["step"] == 2 and np.isfinite(record["train_loss"])


def test_cli_check_validates_and_trains_two_steps(capsys):
    assert cli.main(["check", str(CONFIGS[0])]) == 0  # the DeepONet antiderivative file
    assert "ok" in capsys.readouterr().out


def test_datagen_help_lists_every_data_family_and_each_family_its_options(capsys):
    import datagen

    with pytest.raises(SystemExit):
        cli.main(["datagen", "--help"])
    out = capsys.readouterr().out
    for name, family in datagen.FAMILIES.items():
        assert f"{name}: {family.summary}" in out
        assert all(f"{option.name}=" in out for option in family.options())
    with pytest.raises(SystemExit):
        cli.main(["datagen", "antiderivative", "--help"])
    out = capsys.readouterr().out
    assert "--sensors" in out and "--length-scale" in out and "--resolution" not in out


def test_cli_datagen_reaches_the_deeponet_families(tmp_path, capsys):
    out = tmp_path / "ad"
    arguments = ["datagen", "antiderivative", "--n", "3", "--out", str(out), "--sensors", "12"]
    assert cli.main(arguments + ["--quiet", "--workers", "1"]) == 0
    assert "3 samples" in capsys.readouterr().out
    header = read_header(out / "shard-00000.h5")
    assert header.input_shape == (1, 12) and header.provenance.problem == "antiderivative"
    with pytest.raises(SystemExit) as refused:  # not an option of this family
        cli.main(arguments + ["--quiet", "--frames", "2"])
    assert refused.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_models_lists_every_family_with_its_keys(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    for name, family in registry.FAMILIES.items():
        assert f"{name}: {family.summary}" in out
    assert "branch_widths = (required)" in out and "width = 32" in out


def test_dgno_family_trains_on_the_fields_alone_on_the_data_domain():
    """From a config, DGNO sees only the input fields in training (its test sets keep their
    solutions), and its model and weak form live on the box the data's grid spans."""
    from jaxsciml import experiment
    from jaxsciml.data import from_arrays

    rng = np.random.default_rng(0)
    a = np.where(rng.random((4, 1, 9, 5)) > 0.5, 10.0, 5.0).astype(np.float32)
    grid = (np.linspace(0.0, 2.0, 9), np.linspace(-1.0, 1.0, 5))
    data = from_arrays(a, rng.random((4, 1, 9, 5)).astype(np.float32), grid)
    config = jconfig.from_dict({
        "model": {"name": "dgno", "latent": 4, "width": 8, "depth": 2, "num_outputs": 1,
                  "coefficient_width": 8},
        "train": {"loss_options": {"centres": 3, "radius": 0.05}},
    })  # fmt: skip
    train = experiment.as_family_data(config, data, training=True)
    assert train.output_shape == (0, 9, 5) and train.grid[0][-1] == 2.0
    assert experiment.as_family_data(config, data, training=False) is data
    model = experiment.build_model(config, train, key=jax.random.key(0))
    assert model.domain.lower.tolist() == [0.0, -1.0] and model.domain.upper.tolist() == [2, 1]
    np.testing.assert_array_equal(model.normalizer.mean, a.mean(0))
    loss = experiment.loss_for(config, model)
    weak_domain = loss.weak_form.domain
    assert weak_domain.lower.tolist() == [0.0, -1.0] and weak_domain.upper.tolist() == [2, 1]
    assert loss.weak_form.radius == 0.05
    assert loss.centres == 3
    config = jconfig.from_dict({"model": config.model, "train": {"loss_options": {"size": 3}}})
    with pytest.raises(ConfigError, match="loss_options.*size"):
        experiment.loss_for(config, model)


@pytest.mark.parametrize(
    "table, match",
    [
        ({"train": {"loss": "physics"}}, "needs \\[data\\] pde"),
        ({"train": {"loss_options": {"radius": 0.1}}}, "takes no loss_options"),
    ],
)
def test_loss_options_reach_only_the_losses_that_take_them(table, match):
    from jaxsciml import experiment

    config = jconfig.from_dict({"model": {"name": "fno"}, **table})
    with pytest.raises(ConfigError, match=match):
        experiment.loss_for(config, None)


def test_operator_ode_family_builds_its_vector_field_from_the_registry():

    build = registry.family("operator_ode").build
    table = {"name": "fno", "modes": [4, 4], "width": 8, "depth": 1}
    times = [0.1, 0.2, 0.3]
    model = build(
        vector_field=table, times=times, in_channels=3, out_channels=6, key=jax.random.key(0)
    )
    assert model.times == (0.1, 0.2, 0.3) and model.coefficient_channels == 1  # state: 2
    assert model.operator.in_channels == 3 and model.operator.out_channels == 2
    with pytest.raises(ValueError, match="resolution-free grid family, not t1"):
        build(vector_field={"name": "t1", "modes": [4, 4]}, times=times, in_channels=3,
              out_channels=6, key=jax.random.key(0))  # fmt: skip
    with pytest.raises(ValueError, match="do not split into 3 times"):
        build(vector_field=table, times=times, in_channels=3, out_channels=4, key=jax.random.key(0))


LR, RATE, WD = 1e-2, 0.5, 1e-3


@pytest.mark.parametrize(
    "name, gradient, first, decayed",
    [
        ("adam", 1.0, LR, LR),  # Adam moves by the learning rate whatever the gradient's size
        ("adam_step_decay", 1.0, LR, LR * RATE),
        ("adamw", 0.0, LR * WD, LR * WD),  # decoupled: the decay alone, scaled by the rate
        ("adamw_step_decay", 0.0, LR * WD, LR * RATE * WD),
        ("fno_adam", 0.0, LR, LR * RATE),  # coupled: the decay is a gradient, normalized by Adam
    ],
)
def test_optimizers_follow_their_recipes(name, gradient, first, decayed):
    """The size of the first update and of the first after the step decay (2 steps per epoch,
    decay every 3 epochs: at step 6) of one parameter at 1."""
    import numpy as np

    from jaxsciml.experiment import optimizer_for

    config = jconfig.from_dict({"train": {
        "optimizer": name, "learning_rate": LR, "decay_rate": RATE, "decay_every_epochs": 3,
        "weight_decay": WD,
    }})  # fmt: skip
    optimizer = optimizer_for(config, steps_per_epoch=2)
    params = jax.numpy.ones(1)
    state = optimizer.init(params)
    sizes = []
    for _ in range(7):
        updates, state = optimizer.update(jax.numpy.full(1, gradient), state, params)
        params = params + updates
        sizes.append(-float(updates[0]))
    np.testing.assert_allclose([sizes[0], sizes[6]], [first, decayed], rtol=2e-2)


def test_one_cycle_schedule_meets_its_landmarks_and_mgno_adam_holds_it_per_epoch():
    """PyTorch's OneCycleLR: `peak / div` at step 0, `peak` at step `pct · total − 1`, the
    midpoint of peak and floor halfway down (cosine), the floor `peak / div / final_div` at the
    last step; MgNO's recipe steps it once per epoch."""
    import numpy as np

    from jaxsciml.experiment import optimizer_for
    from jaxsciml.train import one_cycle_schedule

    schedule = one_cycle_schedule(20, 1.0, pct_start=0.2, div_factor=2.0, final_div_factor=100.0)
    lrs = np.array([float(schedule(step)) for step in range(25)])
    floor = 1.0 / 2 / 100
    np.testing.assert_allclose(lrs[[0, 3, 19, 24]], [0.5, 1.0, floor, floor], rtol=1e-6)
    np.testing.assert_allclose(lrs[1], 1 - 0.5 * (np.cos(np.pi / 3) + 1) / 2, rtol=1e-6)
    assert np.all(np.diff(lrs[:4]) > 0) and np.all(np.diff(lrs[3:20]) < 0)
    np.testing.assert_allclose(float(schedule(11)), (1.0 + floor) / 2, rtol=1e-6)  # halfway down
    assert float(one_cycle_schedule(1, 1.0, div_factor=4.0)(7)) == 0.25
    with pytest.raises(ValueError, match="at least 1 step"):
        one_cycle_schedule(0, 1.0)

    config = jconfig.from_dict({"train": {"optimizer": "mgno_adam", "learning_rate": LR,
                                          "epochs": 20}})  # fmt: skip
    optimizer = optimizer_for(config, steps_per_epoch=3)
    params = jax.numpy.ones(1)
    state = optimizer.init(params)
    sizes = []
    for _ in range(9):  # coupled weight decay on a zero gradient: Adam moves by the rate
        updates, state = optimizer.update(jax.numpy.zeros(1), state, params)
        params = params + updates
        sizes.append(-float(updates[0]))
    np.testing.assert_allclose(sizes, np.repeat(LR * lrs[:3], 3), rtol=2e-2)


def test_help_loads_no_jax_so_it_answers_at_once():
    """`jaxsciml --help`, `jaxsciml train --help` and `jaxsciml datagen --help` build their
    parsers without importing JAX (4-5 s before; well under a second now)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from jaxsciml import cli\n"
        "for words in ([], ['train'], ['datagen']):\n"
        "    cli.parser(words).format_help()\n"
        "print(sorted(m for m in ('jax', 'orbax', 'equinox') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_option_of_every_command_has_help_text():
    def undocumented(parser, path):
        for action in parser._actions:
            if isinstance(getattr(action, "choices", None), dict):
                for name, sub in action.choices.items():
                    yield from undocumented(sub, [*path, name])
            elif not action.help and action.dest != "help":
                yield " ".join([*path, action.dest])

    assert list(undocumented(cli.parser(), [])) == []
