"""Readers of the field's formats, each on small files written here from the format's published
layout: PDEBench (Darcy, one array per field, one group per seed), The Well, neuraloperator's
.pt files; time-series windows; `load`'s recognition; The Well writer's round trip."""

import json
import sys
import tracemalloc

import h5py
import jax
import numpy as np
import optax
import pytest

import datagen
import jaxsciml as jsm
from jaxsciml.cli import main
from jaxsciml.data import DatasetFileError


RNG = np.random.default_rng(0)


def _write(path, arrays: dict, attrs: dict | None = None):
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)
        f.attrs.update(attrs or {})
    return path


# --- time-series windows ------------------------------------------------------------------------
def test_windows_follow_the_well_loader_rule():
    frames = RNG.normal(size=(3, 9, 2, 5)).astype(np.float32)  # 3 trajectories, 9 frames, C=2
    constants = RNG.normal(size=(3, 1, 5)).astype(np.float32)
    store = jsm.data.ArrayTrajectories(frames, constants, times=np.arange(9) * 0.5)
    pairs = jsm.data.TrajectoryPairs(store, n_steps_input=2, n_steps_output=3, stride=2)
    assert pairs.windows == 9 - 2 * (2 + 3 - 1) == 1
    pairs = jsm.data.TrajectoryPairs(store, n_steps_input=2, n_steps_output=2, stride=1)
    assert pairs.windows == 6 and pairs.num_samples == 18
    assert pairs.input_shape == (1 + 2 * 2, 5) and pairs.output_shape == (2 * 2, 5)
    assert pairs.output_times == (0.5, 1.0)
    inputs, outputs = pairs.read_sample(2 * 6 + 4)  # trajectory 2, window from frame 4
    np.testing.assert_array_equal(inputs[0], constants[2, 0])
    np.testing.assert_array_equal(inputs[1:3], frames[2, 4])  # time-major: frame 4's channels
    np.testing.assert_array_equal(inputs[3:5], frames[2, 5])
    np.testing.assert_array_equal(outputs.reshape(2, 2, 5), frames[2, 6:8])
    with pytest.raises(ValueError, match="too short.*needs 10"):
        jsm.data.TrajectoryPairs(store, n_steps_input=4, n_steps_output=6)
    with pytest.raises(ValueError, match="stride must be a whole number"):
        jsm.data.TrajectoryPairs(store, stride=0)
    constants_only = jsm.data.TrajectoryPairs(store, n_steps_input=0, n_steps_output=9)
    assert len(constants_only.read_sample(1)[0]) == 1 and constants_only.windows == 1


# --- PDEBench ---------------------------------------------------------------------------------
def test_pdebench_darcy_pairs_nu_with_the_solution_on_the_file_coordinates(tmp_path):
    nu, u = RNG.uniform(1, 2, (6, 8, 8)), RNG.normal(size=(6, 1, 8, 8))
    x = (np.arange(8) + 0.5) / 8
    path = _write(
        tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5",
        {"nu": nu, "tensor": u, "x-coordinate": x, "y-coordinate": x, "t-coordinate": [0.0]},
    )
    data = jsm.data.load(path)
    assert jsm.data.recognise(path) == "pdebench" and len(data) == 6
    assert data.input_shape == data.output_shape == (1, 8, 8)
    np.testing.assert_allclose(data[4].inputs[0], nu[4], rtol=1e-6)
    np.testing.assert_allclose(data[4].outputs, u[4], rtol=1e-6)
    np.testing.assert_allclose(data.grid[1], x)


def test_pdebench_one_array_per_field_becomes_windows(tmp_path):
    u = RNG.normal(size=(4, 11, 16)).astype(np.float32)  # Burgers: (N, T, X)
    t = np.linspace(0, 2, 12)  # PDEBench stores one time more than there are frames
    path = _write(
        tmp_path / "1D_Burgers_Sols_Nu0.1.hdf5",
        {"tensor": u, "x-coordinate": np.linspace(0, 1, 16), "t-coordinate": t},
    )
    data = jsm.data.load(path, n_steps_input=1, n_steps_output=5)
    assert len(data) == 4 * (11 - 5) and data.output_shape == (5, 16)
    np.testing.assert_array_equal(data[6 + 2].inputs[0], u[1, 2])
    np.testing.assert_array_equal(data[6 + 2].outputs, u[1, 3:8])
    assert data.source.output_times == pytest.approx(tuple(np.arange(1, 6) * t[1]))

    fields = {n: RNG.normal(size=(2, 5, 4, 6)) for n in ("Vx", "Vy", "density", "pressure")}
    cfd = _write(
        tmp_path / "2D_CFD_Rand_M0.1_Eta0.01_Zeta0.01_periodic_128_Train.hdf5",
        {**fields, "x-coordinate": np.arange(4.0), "y-coordinate": np.arange(6.0)},
    )
    data = jsm.data.load(cfd)
    assert data.metadata["channels"] == ["density", "pressure", "Vx", "Vy"]  # PDEBench's order
    np.testing.assert_allclose(data[4 + 1].outputs[3], fields["Vy"][1, 2], rtol=1e-6)


def test_pdebench_one_group_per_seed(tmp_path):
    data = {f"{s:04d}": RNG.normal(size=(6, 5, 7, 2)) for s in range(3)}  # (T, X, Y, C)
    with h5py.File(tmp_path / "2D_diff-react_NA_NA.h5", "w") as f:
        for seed, values in data.items():
            f[f"{seed}/data"] = values
            f[f"{seed}/grid/x"], f[f"{seed}/grid/y"] = np.arange(5.0), np.arange(7.0)
            f[f"{seed}/grid/t"] = np.linspace(0, 5, 6)
    pairs = jsm.data.load(tmp_path / "2D_diff-react_NA_NA.h5", n_steps_output=2, stride=2)
    assert len(pairs) == 3 * (6 - 2 * 2) and pairs.input_shape == (2, 5, 7)
    sample = pairs[2 + 1]  # seed 0001, window from frame 1
    np.testing.assert_allclose(sample.inputs, np.moveaxis(data["0001"][1], -1, 0), rtol=1e-6)
    np.testing.assert_allclose(sample.outputs[2:], np.moveaxis(data["0001"][5], -1, 0), rtol=1e-6)
    assert pairs.source.output_times == (2.0, 4.0)


# --- The Well ---------------------------------------------------------------------------------
def _well_file(path, trajectories=2, steps=5, h=4, w=3, seed=0):
    """A file as The Well's data-format page lays it out: a scalar, a vector and a tensor field
    that vary in time, a constant field, a field shared by all trajectories, and one that does
    not vary along y."""
    rng = np.random.default_rng(seed)
    arrays = {
        "density": rng.normal(size=(trajectories, steps, h, w)),
        "velocity": rng.normal(size=(trajectories, steps, h, w, 2)),
        "stress": rng.normal(size=(trajectories, steps, h, w, 2, 2)),
        "obstacle": rng.normal(size=(trajectories, h, w)),
        "forcing": rng.normal(size=(steps, h, w)),
        "inflow": rng.normal(size=(trajectories, steps, h)),
    }
    with h5py.File(path, "w") as f:
        f.attrs.update({
            "dataset_name": "toy_flow", "grid_type": "cartesian", "n_spatial_dims": 2,
            "n_trajectories": trajectories, "simulation_parameters": ["Re"], "Re": 100.0,
        })  # fmt: skip
        f["dimensions/time"] = np.arange(steps) * 0.25
        f["dimensions"].attrs["spatial_dims"] = ["x", "y"]
        f["dimensions/x"], f["dimensions/y"] = np.linspace(0, 1, h), np.linspace(0, 2, w)
        bc = f.create_group("boundary_conditions/x_periodic")
        bc.attrs.update({"bc_type": "periodic", "associated_dims": ["x"]})
        f.create_group("scalars").attrs["field_names"] = []
        layout = {  # name: (group, sample_varying, time_varying, dim_varying)
            "density": ("t0_fields", True, True, [True, True]),
            "forcing": ("t0_fields", False, True, [True, True]),
            "inflow": ("t0_fields", True, True, [True, False]),
            "obstacle": ("t0_fields", True, False, [True, True]),
            "velocity": ("t1_fields", True, True, [True, True]),
            "stress": ("t2_fields", True, True, [True, True]),
        }
        for group in ("t0_fields", "t1_fields", "t2_fields"):
            names = [n for n, spec in layout.items() if spec[0] == group]
            f.create_group(group).attrs["field_names"] = names
            for name in names:
                _, sample, time, dims = layout[name]
                f[group][name] = arrays[name]
                f[group][name].attrs.update(
                    {"sample_varying": sample, "time_varying": time, "dim_varying": dims}
                )
    return arrays


def test_the_well_fields_flatten_as_its_loader_flattens(tmp_path):
    arrays = _well_file(tmp_path / "toy.hdf5")
    store = jsm.data.WellTrajectories(tmp_path / "toy.hdf5")
    assert store.channel_names == [
        "density", "forcing", "inflow", "velocity_x", "velocity_y",
        "stress_xx", "stress_xy", "stress_yx", "stress_yy",
    ]  # fmt: skip
    assert store.constant_names == ["obstacle"] and store.frame_shape == (9, 4, 3)
    frames = store.read_frames(1, slice(2, 4))
    np.testing.assert_allclose(frames[:, 0], arrays["density"][1, 2:4], rtol=1e-6)
    np.testing.assert_allclose(frames[:, 1], arrays["forcing"][2:4], rtol=1e-6)  # shared
    inflow = np.broadcast_to(arrays["inflow"][1, 2:4, :, None], (2, 4, 3))  # broadcast over y
    np.testing.assert_allclose(frames[:, 2], inflow, rtol=1e-6)
    np.testing.assert_allclose(frames[:, 4], arrays["velocity"][1, 2:4, ..., 1], rtol=1e-6)
    np.testing.assert_allclose(frames[:, 6], arrays["stress"][1, 2:4, ..., 0, 1], rtol=1e-6)
    np.testing.assert_allclose(store.read_constants(1)[0], arrays["obstacle"][1], rtol=1e-6)
    assert store.metadata["boundary_conditions"]["x_periodic"]["bc_type"] == "periodic"
    assert store.metadata["simulation_parameters"] == {"Re": 100.0}
    np.testing.assert_allclose(store.grid[1], np.linspace(0, 2, 3))


def test_a_well_split_folder_chains_its_files(tmp_path):
    first = _well_file(tmp_path / "a.hdf5", trajectories=2, seed=1)
    second = _well_file(tmp_path / "b.hdf5", trajectories=3, seed=2)
    data = jsm.data.load(tmp_path, n_steps_input=2, n_steps_output=1)
    assert jsm.data.recognise(tmp_path) == "the_well"
    assert len(data) == 5 * (5 - 2) and data.input_shape == (1 + 2 * 9, 4, 3)
    sample = data[3 * 3 + 1]  # trajectory 3 = the second file's trajectory 1, from frame 1
    np.testing.assert_allclose(sample.inputs[0], second["obstacle"][1], rtol=1e-6)
    np.testing.assert_allclose(sample.inputs[1], second["density"][1, 1], rtol=1e-6)
    np.testing.assert_allclose(sample.outputs[0], second["density"][1, 3], rtol=1e-6)
    np.testing.assert_allclose(data[0].inputs[1], first["density"][0, 0], rtol=1e-6)
    _well_file(tmp_path / "c.hdf5", h=5)
    with pytest.raises(DatasetFileError, match="not hold the same dataset"):
        jsm.data.load(tmp_path)


def test_write_well_round_trips_and_feeds_the_reader(tmp_path):
    frames = RNG.normal(size=(3, 4, 2, 6, 5)).astype(np.float32)
    constants = RNG.normal(size=(3, 1, 6, 5)).astype(np.float32)
    store = jsm.data.ArrayTrajectories(
        frames, constants, times=[0.0, 0.1, 0.2, 0.3], names=["u", "v"], constant_names=["a"]
    )
    parameters = {"nu": 0.1, "name": "x"}  # only numbers are simulation parameters
    path = jsm.data.write_well(
        store, tmp_path / "out.hdf5", dataset_name="mine", parameters=parameters
    )
    back = jsm.data.WellTrajectories(path)
    assert back.channel_names == ["u", "v"] and back.constant_names == ["a"]
    np.testing.assert_array_equal(back.read_frames(2, slice(None)), frames[2])
    np.testing.assert_array_equal(back.read_constants(1), constants[1])
    np.testing.assert_allclose(back.times, [0.0, 0.1, 0.2, 0.3], rtol=1e-6)
    assert back.metadata["simulation_parameters"] == {"nu": pytest.approx(0.1)}
    assert not list(tmp_path.glob("*.tmp"))


def test_convert_writes_generated_data_in_the_well_layout_and_reads_it_back(tmp_path):
    import datagen

    heat = datagen.family("heat").make(resolution=9, steps=3, time_step=0.002)
    datagen.generate(heat, 4, tmp_path / "heat", seed=0, workers=1, progress=False)
    data = jsm.data.load(tmp_path / "heat")
    assert main(["convert", str(tmp_path / "heat"), str(tmp_path / "heat.hdf5")]) == 0
    back = jsm.data.load(tmp_path / "heat.hdf5", n_steps_output=3)
    assert jsm.data.recognise(tmp_path / "heat.hdf5") == "the_well" and len(back) == 4
    for i in range(4):  # [a, u0] -> u(t1..t3): the coefficient is constant, u0 the first frame
        np.testing.assert_array_equal(back[i].inputs, data[i].inputs)
        np.testing.assert_array_equal(back[i].outputs, data[i].outputs)
    assert back.source.output_times == pytest.approx((0.002, 0.004, 0.006))
    assert back.metadata["dataset_name"] == "heat"
    assert back.metadata["channels"] == ["u"] and back.metadata["constant_fields"] == ["a"]

    darcy = jsm.data.from_arrays(RNG.normal(size=(3, 1, 5, 5)), RNG.normal(size=(3, 1, 5, 5)))
    jsm.data.convert(darcy, tmp_path / "darcy.hdf5")  # a map without time: one frame each
    back = jsm.data.load(tmp_path / "darcy.hdf5", n_steps_input=0)
    np.testing.assert_array_equal(back.read([0, 1, 2]).inputs, darcy.read([0, 1, 2]).inputs)
    np.testing.assert_array_equal(back.read([0, 1, 2]).outputs, darcy.read([0, 1, 2]).outputs)
    assert main(["convert", str(tmp_path / "darcy.hdf5"), str(tmp_path / "shards"), "--to",
                 "jaxsciml", "--option", "n_steps_input=0"]) == 0  # fmt: skip
    np.testing.assert_array_equal(jsm.data.load(tmp_path / "shards")[2].outputs, darcy[2].outputs)


# --- neuraloperator .pt -----------------------------------------------------------------------
def test_neuraloperator_pt_files_read_lazily_and_safely(tmp_path):
    torch = pytest.importorskip("torch")  # the torch extra; CI installs it
    x, y = torch.randn(5, 16, 16), torch.randn(5, 16, 16)
    torch.save({"x": x, "y": y}, tmp_path / "darcy_train_16.pt")
    data = jsm.data.load(tmp_path / "darcy_train_16.pt")
    assert jsm.data.recognise(tmp_path / "darcy_train_16.pt") == "torch"
    assert len(data) == 5 and data.input_shape == (1, 16, 16)
    np.testing.assert_array_equal(data[3].outputs[0], y[3].numpy())

    class Payload:  # a pickled object: loading it would run code, weights_only refuses it
        def __reduce__(self):
            return (print, ("ran",))

    torch.save({"x": x, "y": Payload()}, tmp_path / "unsafe.pt")
    with pytest.raises(DatasetFileError, match="weights_only=True"):
        jsm.data.load(tmp_path / "unsafe.pt")


def test_pt_files_without_torch_name_the_extra(tmp_path, monkeypatch):
    (tmp_path / "data.pt").write_bytes(b"\x80\x02not really")
    monkeypatch.setitem(sys.modules, "torch", None)  # as if PyTorch were not installed
    with pytest.raises(DatasetFileError, match=r"jaxsciml\[torch\]"):
        jsm.data.load(tmp_path / "data.pt")


# --- recognition and laziness ----------------------------------------------------------------
def test_unknown_files_name_the_formats_there_are(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetFileError, match="no format known here.*'the_well'.*'pdebench'"):
        jsm.data.load(tmp_path / "notes.txt")
    _write(tmp_path / "mine.h5", {"a": np.zeros((2, 4, 4)), "u": np.zeros((2, 4, 4))})
    with pytest.raises(DatasetFileError, match="inputs=, outputs= and layout="):
        jsm.data.load(tmp_path / "mine.h5")
    data = jsm.data.load(tmp_path / "mine.h5", inputs="a", outputs="u", layout="n h w")
    assert data.input_shape == (1, 4, 4)
    np.savez(tmp_path / "mine.npz", a=np.zeros((2, 4, 4)), u=np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="needs \\['inputs', 'outputs', 'layout'\\]"):
        jsm.data.load(tmp_path / "mine.npz")
    with pytest.raises(ValueError, match="takes the options.*not \\['stride'\\]"):
        jsm.data.load(tmp_path / "mine.npz", format="arrays", stride=2)
    with pytest.raises(ValueError, match="unknown format 'csv'"):
        jsm.data.load(tmp_path / "mine.npz", format="csv")


def test_readers_never_load_a_whole_file(tmp_path):
    """A 105 GB PDEBench time series (declared, chunked by frame, mostly unwritten): a window
    reads its own frames and nothing more."""
    path, n, x = tmp_path / "1D_Burgers_huge.hdf5", 2000, 65536
    with h5py.File(path, "w") as f:
        big = f.create_dataset("tensor", (n, 201, x), np.float32, chunks=(1, 1, x))
        big[77] = np.ones((201, x), np.float32)
        f["x-coordinate"] = np.linspace(0, 1, x)
    assert path.stat().st_size < 70e6
    tracemalloc.start()
    data = jsm.data.load(path, n_steps_output=10)
    sample = data[77 * data.source.windows + 3]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(data) == n * 191 and sample.outputs.shape == (10, x)
    assert float(sample.outputs.min()) == 1.0
    assert peak < 30e6, peak  # the window is 2.9 MB, the sample index 3 MB


def test_a_time_series_file_trains(tmp_path):
    """A PDEBench time series, loaded and cut into windows, trains an FNO with `fit`."""
    t = np.linspace(0, 1, 8)[:, None]
    x = np.linspace(0, 1, 16, endpoint=False)
    u = np.sin(2 * np.pi * (x - t))[None] * RNG.uniform(0.5, 1.5, (8, 1, 1))  # travelling waves
    path = _write(tmp_path / "1D_Advection_Sols_beta1.0.hdf5", {"tensor": u, "x-coordinate": x})
    data = jsm.data.load(path, n_steps_input=1, n_steps_output=2)
    model = jsm.FNO(1, 2, modes=(4,), width=8, depth=2, key=jax.random.key(0))
    optimizer = optax.adam(1e-2)
    _, history = jsm.fit(model, data, epochs=3, batch_size=8, optimizer=optimizer, progress=False)
    assert history[-1]["train_loss"] < history[0]["train_loss"]


@pytest.mark.slow
def test_the_command_line_trains_an_operator_ode_on_the_well_windows(tmp_path, capsys):
    """Heat trajectories in The Well's layout, cut into windows by `[data] options`, train an
    `OperatorODE` with `jaxsciml train`; `evaluate` reads them as the run says."""
    import datagen

    heat = datagen.family("heat").make(resolution=9, steps=3, time_step=0.002)
    datagen.generate(heat, 12, tmp_path / "heat", seed=0, workers=1, progress=False)
    jsm.data.convert(jsm.data.load(tmp_path / "heat"), tmp_path / "heat.hdf5")
    config = tmp_path / "ode.toml"
    config.write_text(f"""
[data]
path = "{tmp_path / "heat.hdf5"}"
options = {{ n_steps_input = 1, n_steps_output = 3 }}
n_train = 8
n_test = 4
normalize = "none"
[model]
name = "operator_ode"
vector_field = {{ name = "fno", modes = [3, 3], width = 4, depth = 1, projection_channels = 8 }}
times = [0.002, 0.004, 0.006]
time_scale = 0.006
[train]
epochs = 1
batch_size = 8
""")
    run = tmp_path / "run"
    assert main(["train", str(config), "--run-dir", str(run)]) == 0
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(record["test.relative_l2"])
    capsys.readouterr()
    assert main(["evaluate", str(run), str(tmp_path / "heat.hdf5"), "--n", "4"]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert np.isfinite(scores["relative_l2"])


def test_navier_stokes_shards_cut_into_windows(tmp_path):
    """datagen's trajectories (first frame in, the frames after it out) as windows of frames:
    each window is the right slice of its trajectory, windows go trajectory by trajectory, and
    the output times come from the data's frame interval."""
    path = tmp_path / "ns"
    datagen.generate(
        "navier_stokes", 2, path, resolution=8, stored_resolution=8, frames=6,
        frame_interval=0.01, time_step=0.01, seed=0,
    )  # fmt: skip
    raw = jsm.data.load(path)
    windows = jsm.data.load(path, n_steps_input=2, n_steps_output=3)
    per_trajectory = 7 - (2 + 3) + 1
    assert len(windows) == 2 * per_trajectory
    assert windows.source.output_times == pytest.approx((0.01, 0.02, 0.03))
    for trajectory in range(2):
        frames = np.concatenate([raw[trajectory].inputs, raw[trajectory].outputs])
        for start in range(per_trajectory):
            window = windows[trajectory * per_trajectory + start]
            np.testing.assert_array_equal(window.inputs, frames[start : start + 2])
            np.testing.assert_array_equal(window.outputs, frames[start + 2 : start + 5])
    with pytest.raises(ValueError, match="n_steps_output as well"):
        jsm.data.load(path, n_steps_input=2)
