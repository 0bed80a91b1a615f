"""Datasets: lazy views, strides, splits, batches, normalizers, the FNO .mat adapter, bad files."""

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.io

import jaxsciml as jsm
from datagen.format import shard_name
from jaxsciml.data import DatasetFileError, GaussianNormalizer


def test_load_reads_the_generated_shards(darcy_dir):
    data = jsm.data.load(darcy_dir)
    assert len(data) == 96
    assert data.input_shape == data.output_shape == (1, 17, 17)
    assert data.metadata["problem"] == "darcy" and data.metadata["seed"] == 7
    sample = data[40]  # second shard
    assert sample.inputs.shape == (1, 17, 17) and sample.inputs.dtype == np.float32
    assert set(np.unique(sample.inputs)) <= {3.0, 12.0}


def test_split_and_subsample_are_views(darcy_dir):
    data = jsm.data.load(darcy_dir)
    train, test = data.split(80, 10)
    assert (len(train), len(test)) == (80, 10)
    np.testing.assert_array_equal(test[0].outputs, data[80].outputs)
    coarse = train.subsample(2)
    assert coarse.input_shape == (1, 9, 9)
    np.testing.assert_array_equal(coarse[3].inputs, data[3].inputs[:, ::2, ::2])
    np.testing.assert_array_equal(coarse.grid[0], np.linspace(0, 1, 9))
    assert coarse.subsample(2).input_shape == (1, 5, 5)  # strides compose
    with pytest.raises(ValueError, match="cannot split"):
        data.split(90, 10)


def test_batches_shuffle_by_seed_and_epoch_and_resume_mid_epoch(darcy_dir):
    data = jsm.data.load(darcy_dir).split(40)[0]
    epoch = lambda **kw: [b.inputs for b in data.batches(8, **kw)]
    first, again, other = epoch(seed=0, epoch=0), epoch(seed=0, epoch=0), epoch(seed=0, epoch=1)
    assert len(first) == 5
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])
    resumed = epoch(seed=0, epoch=0, start=3)
    assert len(resumed) == 2 and np.array_equal(resumed[0], first[3])
    seen = np.concatenate(first).reshape(40, -1)
    assert len({row.tobytes() for row in seen}) == 40  # every sample exactly once


def test_batches_drop_or_keep_the_last_partial_batch_and_split_by_host(darcy_dir):
    data = jsm.data.load(darcy_dir).split(20)[0]
    assert [len(b.inputs) for b in data.batches(8)] == [8, 8]
    assert [len(b.inputs) for b in data.batches(8, drop_last=False)] == [8, 8, 4]
    whole = next(data.batches(8, seed=1))
    halves = [next(data.batches(8, seed=1, part=(p, 2))) for p in range(2)]
    np.testing.assert_array_equal(np.concatenate([h.inputs for h in halves]), whole.inputs)


def test_cache_holds_the_same_samples(darcy_dir):
    data = jsm.data.load(darcy_dir).split(10)[0].subsample(2)
    cached = data.cache()
    assert cached.input_shape == data.input_shape
    np.testing.assert_array_equal(cached[7].outputs, data[7].outputs)


def test_nan_in_a_dataset_names_the_sample(tmp_path):
    inputs = np.ones((4, 1, 5, 5), np.float32)
    inputs[2, 0, 1, 1] = np.nan
    data = jsm.data.from_arrays(inputs, np.ones_like(inputs))
    with pytest.raises(DatasetFileError, match="sample 2 holds NaN"):
        list(data.batches(2))


def test_missing_and_truncated_files_are_named(darcy_dir, tmp_path):
    with pytest.raises(DatasetFileError, match="does not exist"):
        jsm.data.load(tmp_path / "missing")
    broken = tmp_path / "broken"
    broken.mkdir()
    for i in range(3):
        (broken / shard_name(i)).write_bytes((darcy_dir / shard_name(i)).read_bytes())
    (broken / shard_name(1)).write_bytes((darcy_dir / shard_name(1)).read_bytes()[:1000])
    with pytest.raises(DatasetFileError, match="truncated or corrupt"):
        jsm.data.load(broken)
    (broken / shard_name(1)).unlink()
    with pytest.raises(DatasetFileError, match="incomplete: 2 of 3 shards"):
        jsm.data.load(broken)


def test_from_arrays_checks_shapes():
    with pytest.raises(ValueError, match="same number of samples"):
        jsm.data.from_arrays(np.zeros((3, 1, 4, 4)), np.zeros((2, 1, 4, 4)))
    with pytest.raises(ValueError, match="channels, \\*spatial"):
        jsm.data.from_arrays(np.zeros((3, 4)), np.zeros((3, 4)))


def write_mat_v73(path, fields, header=True):
    """MATLAB v7.3 files are HDF5 with every array's axes in reverse (column-major) order, a
    512-byte header and a `MATLAB_class` attribute on each array (here: one or the other)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in fields.items():
            f[key] = np.ascontiguousarray(np.transpose(value))
            if not header:
                f[key].attrs["MATLAB_class"] = np.bytes_("double")
    if header:
        with open(path, "r+b") as f:
            f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024")


@pytest.mark.parametrize("version", ["v5", "v7.3", "v7.3-attributes"])
def test_fno_mat_adapter_reads_both_matlab_versions(tmp_path, version):
    rng = np.random.default_rng(0)
    coeff = rng.normal(size=(6, 21, 21))  # (N, s, s) as MATLAB holds it; not symmetric in x, y
    sol = rng.normal(size=(6, 21, 21))
    path = tmp_path / f"darcy_{version}.mat"
    if version == "v5":
        scipy.io.savemat(path, {"coeff": coeff, "sol": sol})
    else:
        write_mat_v73(path, {"coeff": coeff, "sol": sol}, header=version == "v7.3")
    data = jsm.data.load_fno_mat(path)
    assert len(data) == 6 and data.input_shape == (1, 21, 21)
    np.testing.assert_allclose(data[4].inputs[0], coeff[4], rtol=1e-6)
    coarse = data.subsample(5)  # the FNO protocol's [:, ::r, ::r]
    assert coarse.input_shape == (1, 5, 5)
    np.testing.assert_allclose(coarse[2].outputs[0], sol[2, ::5, ::5], rtol=1e-6)


def test_a_plain_hdf5_file_is_refused_not_read_with_its_axes_reversed(tmp_path):
    """24 samples of 32x24 in C order: read as MATLAB's, they would become 24x32 samples of 32."""
    path = tmp_path / "mine.h5"
    with h5py.File(path, "w") as f:
        f["coeff"] = np.zeros((24, 32, 24))
        f["sol"] = np.zeros((24, 32, 24))
    with pytest.raises(DatasetFileError, match="no format known here.*load_arrays"):
        jsm.data.load(path)
    with pytest.raises(DatasetFileError, match="plain HDF5 file.*load_arrays"):
        jsm.data.load_fno_mat(path)


@pytest.mark.parametrize("suffix", ["h5", "npz"])
def test_plain_files_read_by_key_and_layout_and_save_as_a_dataset(tmp_path, suffix):
    """Channels-last inputs and channel-less outputs, 5 samples of 6x4: read lazily in the
    layout named, every axis where it belongs; saved, they load as a checked dataset."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 6, 4, 2))  # n h w c
    u = rng.normal(size=(5, 6, 4))  # n h w
    path = tmp_path / f"mine.{suffix}"
    if suffix == "h5":
        with h5py.File(path, "w") as f:
            f["a"], f["u"] = a, u
    else:
        np.savez(path, a=a, u=u)
    data = jsm.data.load_arrays(path, "a", "u", layout="n h w c", output_layout="n h w")
    assert len(data) == 5 and data.input_shape == (2, 6, 4) and data.output_shape == (1, 6, 4)
    np.testing.assert_allclose(data[3].inputs, np.moveaxis(a[3], -1, 0), rtol=1e-6)
    np.testing.assert_allclose(data[3].outputs[0], u[3], rtol=1e-6)
    jsm.data.save(data, tmp_path / "saved", shard_size=2)
    saved = jsm.data.load(tmp_path / "saved")
    assert len(saved.source.headers) == 3
    np.testing.assert_array_equal(saved.read(np.arange(5)).inputs, data.read(np.arange(5)).inputs)
    with pytest.raises(DatasetFileError, match="already holds a dataset"):
        jsm.data.save(data, tmp_path / "saved")
    with pytest.raises(ValueError, match="names 3 axes for an array of 4"):
        jsm.data.load_arrays(path, "a", "u", layout="n h w")
    with pytest.raises(ValueError, match="one sample axis 'n'"):
        jsm.data.load_arrays(path, "a", "u", layout="b h w c", output_layout="n h w")
    with pytest.raises(DatasetFileError, match="must agree in number and grid"):
        jsm.data.load_arrays(path, "a", "u", layout="n h c w", output_layout="n h w")
    with pytest.raises(DatasetFileError, match="has no array 'v'"):
        jsm.data.load_arrays(path, "a", "v", layout="n h w c")


def test_fno_mat_adapter_names_missing_fields_and_bad_files(tmp_path):
    path = tmp_path / "burgers.mat"
    scipy.io.savemat(path, {"a": np.zeros((2, 8)), "u": np.zeros((2, 8))})
    with pytest.raises(DatasetFileError, match="no field 'coeff'"):
        jsm.data.load_fno_mat(path)
    assert len(jsm.data.load_fno_mat(path, "a", "u")) == 2
    garbage = tmp_path / "garbage.mat"
    garbage.write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 20)
    with pytest.raises(DatasetFileError, match="truncated"):
        jsm.data.load_fno_mat(garbage)


def test_normalizer_statistics_match_numpy(darcy_dir):
    data = jsm.data.load(darcy_dir).split(50)[0]
    everything = data.read(np.arange(len(data)))
    pointwise = GaussianNormalizer.fit(data, "outputs", batch_size=16)
    np.testing.assert_allclose(pointwise.mean, everything.outputs.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        pointwise.std, everything.outputs.std(0, ddof=1), rtol=1e-4, atol=1e-7
    )
    per_channel = GaussianNormalizer.fit(data, "inputs", pointwise=False, batch_size=16)
    assert per_channel.mean.shape == (1, 1, 1)
    np.testing.assert_allclose(per_channel.std[0, 0, 0], everything.inputs.std(ddof=1), rtol=1e-5)


def test_normalizer_round_trip_and_resampling_to_a_finer_grid():
    x = np.linspace(0, 1, 9)
    mean = jnp.asarray(
        (x[:, None] + 2 * x[None, :])[None], jnp.float32
    )  # linear: exact under interpolation
    normalizer = GaussianNormalizer(mean, jnp.full_like(mean, 2.0))
    field = jnp.ones((1, 9, 9))
    np.testing.assert_allclose(normalizer.decode(normalizer.encode(field)), field, atol=1e-6)
    fine = np.linspace(0, 1, 17)
    fine_mean = (fine[:, None] + 2 * fine[None, :])[None]
    encoded = normalizer.encode(jnp.asarray(fine_mean, jnp.float32))
    np.testing.assert_allclose(encoded, 0, atol=1e-6)


def test_normalized_model_trains_only_the_inner_model(darcy_dir, getkey):
    train = jsm.data.load(darcy_dir).split(32)[0]
    model = jsm.with_normalizers(jsm.FNO(1, 1, (4, 4), width=4, depth=1, key=getkey()), train)
    trainable = jsm.nn.trainable_filter(model)
    assert not any(jax.tree.leaves(trainable.input_normalizer))
    assert all(jax.tree.leaves(trainable.model))
    assert model(jnp.asarray(train[0].inputs)).shape == (1, 17, 17)
