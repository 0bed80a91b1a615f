"""The training loop: sharding, resume, interruption, logging, errors."""

import json
import re
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsciml as jsm
from jaxsciml import parallel
from jaxsciml.train import CheckpointMismatchError
from jaxsciml.train.resident import ResidentSteps


@pytest.fixture(scope="module")
def small(darcy_dir):
    data = jsm.data.load(darcy_dir).subsample(2).cache()  # 9x9 grids
    return data.split(48, 16)


def tiny_model(train, key=jax.random.key(0)):
    return jsm.with_normalizers(
        jsm.FNO(1, 1, (3, 3), width=4, depth=1, projection_channels=8, key=key), train
    )


def arrays(model):
    return [np.asarray(x) for x in jax.tree.leaves(eqx.filter(model, eqx.is_array))]


def without_time(history):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


def test_sharded_step_equals_single_device_step(small):
    train, _ = small
    assert len(jax.devices()) == 8
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        model, history = jsm.fit(
            tiny_model(train),
            train.split(16)[0],
            epochs=1,
            batch_size=16,
            progress=False,
            mesh=parallel.data_mesh(devices),
        )
        results.append((arrays(model), history[0]["train_loss"]))
    (single, loss_1), (sharded, loss_8) = results
    assert loss_1 == pytest.approx(loss_8, rel=1e-5)
    for a, b in zip(single, sharded):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_model_passed_in_stays_usable_after_training_on_one_device(small):
    """The step donates its buffers; on one device they must be copies, not the caller's."""
    train = jsm.data.PointDataset(small[0])
    model = jsm.DeepONet(81, 2, [8, 8], [8, 8], key=jax.random.key(0))
    # (no NumPy view of `model` before training: a view would pin its buffers against donation)
    before = arrays(jsm.DeepONet(81, 2, [8, 8], [8, 8], key=jax.random.key(0)))
    mesh = parallel.data_mesh(jax.devices()[:1])
    first, _ = jsm.fit(model, train, epochs=1, batch_size=16, progress=False, mesh=mesh)
    second, _ = jsm.fit(model, train, epochs=1, batch_size=16, progress=False, mesh=mesh)
    for a, b in zip(before, arrays(model)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(arrays(first), arrays(second)):
        np.testing.assert_array_equal(a, b)


def test_training_lowers_the_error(small):
    train, test = small
    model, history = jsm.fit(
        tiny_model(train),
        train,
        epochs=6,
        batch_size=8,
        evaluation=jsm.Evaluation(test),
        progress=False,
    )
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["eval.relative_l2"] < history[0]["eval.relative_l2"]
    assert [r["epoch"] for r in history] == list(range(1, 7)) and history[-1]["step"] == 36


def test_resume_after_max_steps_is_bitwise_equal_to_an_uninterrupted_run(small, tmp_path):
    train, test = small
    settings = dict(epochs=3, batch_size=16, evaluation=jsm.Evaluation(test), progress=False)
    into = lambda name, resume=False: jsm.Checkpointing(tmp_path / name, resume=resume)
    straight, straight_history = jsm.fit(
        tiny_model(train), train, checkpointing=into("a"), **settings
    )
    # Stop inside the second epoch (3 steps per epoch), then resume twice.
    first, _ = jsm.fit(tiny_model(train), train, checkpointing=into("b"), max_steps=4, **settings)
    assert not all(np.array_equal(x, y) for x, y in zip(arrays(first), arrays(straight)))
    jsm.fit(tiny_model(train), train, checkpointing=into("b", True), max_steps=5, **settings)
    resumed, resumed_history = jsm.fit(
        tiny_model(train), train, checkpointing=into("b", True), **settings
    )
    for x, y in zip(arrays(resumed), arrays(straight)):
        np.testing.assert_array_equal(x, y)
    assert without_time(resumed_history) == without_time(straight_history)
    logged = [
        json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    ]
    assert without_time(logged) == without_time(straight_history)


@pytest.mark.parametrize("resident", [False, True])
def test_ctrl_c_saves_a_checkpoint_and_resume_continues_exactly(
    small, tmp_path, monkeypatch, resident
):
    """Streaming: a Ctrl-C while the fifth batch is placed saves step 4. Resident: one while
    the third chunk runs saves where the second ended (chunks grow with their measured speed)."""
    train, _ = small
    settings = dict(epochs=2, batch_size=16, progress=False, resident=resident)
    straight, _ = jsm.fit(tiny_model(train), train, **settings)

    owner, name = (ResidentSteps, "run") if resident else (parallel, "global_batch")
    real = getattr(owner, name)
    calls = {"n": 0, "steps": 0}

    def interrupt_at_the_fifth_call(*args):
        calls["n"] += 1
        if calls["n"] == (3 if resident else 5):
            raise KeyboardInterrupt
        result = real(*args)
        calls["steps"] += len(result[1]) if resident else 1
        return result

    monkeypatch.setattr(owner, name, interrupt_at_the_fifth_call)
    with pytest.raises(KeyboardInterrupt):
        jsm.fit(tiny_model(train), train, checkpointing=jsm.Checkpointing(tmp_path), **settings)
    monkeypatch.setattr(owner, name, real)
    assert jsm.train.Checkpointer(tmp_path).latest_step() == calls["steps"]
    assert calls["steps"] == 4 or resident
    resumed, _ = jsm.fit(
        tiny_model(train), train, checkpointing=jsm.Checkpointing(tmp_path, resume=True), **settings
    )
    for x, y in zip(arrays(resumed), arrays(straight)):
        np.testing.assert_array_equal(x, y)


def test_steps_with_convolutions_run_one_per_dispatch_on_cpu_with_the_streamed_steps(small):
    """XLA:CPU runs a convolution inside a compiled loop about 8x slower than alone, so a
    resident step with one takes a chunk of one step; it still takes the streamed steps."""
    from jaxsciml.train.step import loops_are_slow

    mesh = parallel.data_mesh(jax.devices()[:1])
    kernel = jnp.ones((1, 1, 3, 3))
    conv = jax.make_jaxpr(lambda x: jax.lax.conv(x, kernel, (1, 1), "SAME"))(jnp.ones((1, 1, 4, 4)))
    dense = jax.make_jaxpr(lambda x: jnp.sin(x @ x))(jnp.ones((3, 3)))
    assert loops_are_slow(conv, mesh) and not loops_are_slow(dense, mesh)
    train, _ = small
    lengths = []
    build = ResidentSteps._build

    def spy(self, state, start, key):
        build(self, state, start, key)
        lengths.append(self.length)

    runs = {}
    for resident in (False, True):
        model = jsm.MgNO(1, 1, train.input_shape[1:], width=4, depth=1, levels=2,
                         key=jax.random.key(0))  # fmt: skip
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ResidentSteps, "_build", spy)
            runs[resident] = jsm.fit(model, train, epochs=2, batch_size=8, progress=False,
                                     resident=resident, mesh=mesh)  # fmt: skip
    assert lengths == [1]
    (_, streamed), (_, resident) = runs[False], runs[True]
    for a, b in zip(without_time(streamed), without_time(resident)):
        np.testing.assert_allclose(list(a.values()), list(b.values()), rtol=2e-5)


def test_resident_training_takes_the_streamed_steps(small):
    """From device memory, many steps per dispatch: the same batches, keys and records as one
    step per dispatch (values to float32 rounding: the two programs are compiled apart), with
    evaluations and checkpoints at their epochs though a chunk spans several epochs."""
    train, test = small
    runs = {}
    for resident in (False, True):
        settings = dict(epochs=6, batch_size=8, progress=False, resident=resident)
        evaluation = jsm.Evaluation({"test": test}, every=4)
        runs[resident] = jsm.fit(tiny_model(train), train, evaluation=evaluation, **settings)
    (streamed, streamed_history), (resident, resident_history) = runs[False], runs[True]
    assert [sorted(r) for r in streamed_history] == [sorted(r) for r in resident_history]
    assert ["test.relative_l2" in r for r in resident_history] == [False] * 3 + [True] + [
        False,
        True,
    ]
    for a, b in zip(without_time(streamed_history), without_time(resident_history)):
        assert a.keys() == b.keys()
        np.testing.assert_allclose(list(a.values()), list(b.values()), rtol=2e-5)
    for x, y in zip(arrays(resident), arrays(streamed)):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)
    on_disk = jsm.data.load(test.metadata["path"])  # not in memory: resident=True refuses it
    with pytest.raises(ValueError, match="resident=True needs the data in memory"):
        jsm.fit(tiny_model(train), on_disk, epochs=1, batch_size=8, resident=True)


def test_data_too_large_for_every_device_stream_unless_told(small, monkeypatch):
    train, _ = small
    fit_module = sys.modules["jaxsciml.train.fit"]
    monkeypatch.setattr(fit_module, "RESIDENT_BYTES", 0)  # as if the data were very large

    def refuse(*_):
        raise AssertionError("trained from device memory")

    monkeypatch.setattr(ResidentSteps, "run", refuse)
    jsm.fit(tiny_model(train), train, epochs=1, batch_size=16, progress=False)  # streams
    with pytest.raises(AssertionError, match="device memory"):  # resident=True insists
        jsm.fit(tiny_model(train), train, epochs=1, batch_size=16, progress=False, resident=True)


def test_checkpoint_directories_are_not_overwritten_or_mixed(small, tmp_path):
    train, _ = small

    def run(model, resume=False, **settings):
        policy = jsm.Checkpointing(tmp_path, resume=resume)
        return jsm.fit(model, train, checkpointing=policy, progress=False, **settings)

    run(tiny_model(train), epochs=1, batch_size=16)
    with pytest.raises(FileExistsError, match="resume=True"):
        run(tiny_model(train), epochs=1, batch_size=16)
    with pytest.raises(CheckpointMismatchError, match="batch_size"):
        run(tiny_model(train), epochs=2, batch_size=8, resume=True)
    wider = jsm.FNO(1, 1, (3, 3), width=6, depth=1, projection_channels=8, key=jax.random.key(0))
    with pytest.raises(CheckpointMismatchError, match="float32"):
        run(jsm.with_normalizers(wider, train), epochs=2, batch_size=16, resume=True)


def test_any_loss_and_optimizer_and_finer_grid_evaluation(darcy_dir, small):
    train, _ = small
    fine_test = jsm.data.load(darcy_dir).split(80)[1]  # 17x17: zero-shot super-resolution

    def mse_loss(model, batch, key):
        noise = 1e-3 * jax.random.normal(key, batch.inputs.shape)
        predictions = jax.vmap(model)(batch.inputs + noise)
        return jnp.mean((predictions - batch.outputs) ** 2)

    _, history = jsm.fit(
        tiny_model(train),
        train,
        epochs=2,
        batch_size=8,
        loss=mse_loss,
        optimizer=optax.adam(1e-2),
        evaluation=jsm.Evaluation(
            {"test@17": fine_test},
            metrics={"rel_l2": jsm.losses.relative_l2, "rel_h1": jsm.losses.relative_h1},
        ),
        progress=False,
    )
    assert {"test@17.rel_l2", "test@17.rel_h1"} <= set(history[-1])
    assert "learning_rate" not in history[-1]  # only known for the default optimizer


def test_bad_settings_are_named(small):
    train, _ = small
    with pytest.raises(ValueError, match="does not split evenly over the 8 devices"):
        jsm.fit(tiny_model(train), train, epochs=1, batch_size=12, progress=False)
    with pytest.raises(ValueError, match="larger than the 48 samples"):
        jsm.fit(tiny_model(train), train, epochs=1, batch_size=64, progress=False)


def test_evaluate_counts_every_sample_once(small):
    train, test = small
    model = tiny_model(train)
    scores = jsm.evaluate(model, test.split(13)[0], batch_size=8)
    per_sample = [
        float(jsm.losses.relative_l2(model(jnp.asarray(s.inputs)), jnp.asarray(s.outputs)))
        for s in (test[i] for i in range(13))
    ]
    assert scores["relative_l2"] == pytest.approx(np.mean(per_sample), rel=1e-5)


def test_drop_last_false_trains_on_the_last_partial_batch(small):
    train, _ = small
    data = train.split(40)[0]  # 40 = 2 * 16 + 8
    kept, history = jsm.fit(
        tiny_model(train), data, epochs=1, batch_size=16, drop_last=False, progress=False
    )
    dropped, _ = jsm.fit(tiny_model(train), data, epochs=1, batch_size=16, progress=False)
    assert history[-1]["step"] == 3
    assert not all(np.array_equal(x, y) for x, y in zip(arrays(kept), arrays(dropped)))


def test_policies_refuse_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="every"):
        jsm.Checkpointing(tmp_path, every=0)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="is a file"):
        jsm.Checkpointing(tmp_path / "file")
    with pytest.raises(TypeError, match="not a dataset|AbstractDataset"):
        jsm.Evaluation({"test": np.zeros(3)})


def test_restore_model_needs_no_optimizer(small, tmp_path):
    train, _ = small
    trained, _ = jsm.fit(
        tiny_model(train),
        train,
        epochs=1,
        batch_size=16,
        optimizer=optax.adam(1e-2),
        checkpointing=jsm.Checkpointing(tmp_path),
        progress=False,
    )
    restored = jsm.train.restore_model(tmp_path, tiny_model(train, jax.random.key(5)))
    for x, y in zip(arrays(restored), arrays(trained)):
        np.testing.assert_array_equal(x, y)


def test_progress_in_a_log_file_is_one_line_per_epoch_with_total_rate_and_eta(small, capsys):
    """Not on a terminal (pytest captures standard error): no bar, a line per epoch at most
    (here every epoch: the interval is never reached but the last), each with the steps done of
    the total, the rate and the time left."""
    train, _ = small
    jsm.fit(tiny_model(train), train, epochs=3, batch_size=16, progress=None)
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert "\r" not in captured.err + captured.out and 1 <= len(lines) <= 3
    assert re.match(r"epoch 1: 3/9 steps \(33%\), [\d.e+]+ step/s, .*ETA \d\d:\d\d:\d\d", lines[0])
    assert lines[-1].startswith("epoch 3: 9/9 steps (100%)")
