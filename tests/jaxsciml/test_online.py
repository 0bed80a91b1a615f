"""Online training: the buffer policies draw what the paper says they draw, the counts they
report agree with an independent tally, nothing depends on timing, and a killed run resumes
bitwise with its buffer."""

import collections

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsciml as jsm
from jaxsciml.data.online import OnlineDataset, StreamExhausted


FAILED = lambda i: i % 7 == 3  # noqa: E731  (the `counting` family's unconverged samples)


def online(counting, policy="fifo", samples=200, **settings):
    defaults = dict(capacity=10, shard_size=4, workers=0, part=(0, 1))
    return OnlineDataset(counting(), samples, policy=policy, **{**defaults, **settings})


def drawn(data, batch_size, epochs, seed=0):
    """The sample numbers of every batch of `epochs` epochs, one list per step."""
    steps = []
    for epoch in range(epochs):
        for batch in data.batches(batch_size, seed=seed, epoch=epoch, part=data.part):
            steps.append(batch.inputs[:, 0, 0].astype(int).tolist())
            np.testing.assert_array_equal(batch.outputs, 2 * batch.inputs)
    return steps


def made(n):
    """The first `n` numbers the `counting` stream hands out."""
    return [i for i in range(10 * n) if not FAILED(i)][:n]


def test_fifo_draws_every_sample_once_in_the_order_made(counting):
    data = online(counting, "fifo", epoch_size=20)
    steps = drawn(data, 5, epochs=3)
    assert sum(steps, []) == made(60)
    metrics = data.metrics()
    assert metrics["drawn"] == metrics["distinct"] == 60 and metrics["reuse"] == 1
    assert metrics["generated"] == 60 + 10 - 5  # full before each step: 10 held at step 11
    # unconverged solves were made and left out: 3, 10, ... before the 65th sample taken in
    assert metrics["failed"] == len([i for i in range(made(65)[-1]) if FAILED(i)])


def test_firo_draws_every_sample_once_in_a_mixed_order(counting):
    data = online(counting, "firo", epoch_size=20)
    rows = sum(drawn(data, 5, epochs=3), [])
    assert len(set(rows)) == 60 and not any(FAILED(i) for i in rows)
    assert set(rows) <= set(made(60 + 10))  # drawn from the buffer's window, nothing else
    assert rows != made(60)
    assert data.metrics()["max_draws"] == 1


def test_reservoir_counts_agree_with_an_independent_tally(counting):
    data = online(counting, "reservoir", capacity=12, new_per_step=2, epoch_size=24)
    rows = sum(drawn(data, 6, epochs=3), [])
    tally = collections.Counter(rows)
    metrics = data.metrics()
    assert metrics["drawn"] == len(rows) == 72
    assert metrics["distinct"] == len(tally)
    assert metrics["max_draws"] == max(tally.values()) > 1
    assert metrics["reuse"] == pytest.approx(len(rows) / len(tally))
    assert metrics["generated"] == 12 + 2 * 11  # the schedule: watermark, then 2 per step
    assert set(tally) <= set(made(34))


def test_reservoir_reuse_bound(counting):
    data = online(counting, "reservoir", capacity=12, new_per_step=1, max_reuse=2, epoch_size=24)
    rows = sum(drawn(data, 6, epochs=3), [])
    assert max(collections.Counter(rows).values()) == 2
    assert data.metrics()["max_draws"] == 2
    # the bound pulls samples in ahead of the schedule rather than drawing a sample again
    assert data.metrics()["generated"] > 12 + 11


def test_draws_do_not_depend_on_the_workers_or_their_timing():
    runs = []
    for workers in (0, 2):
        data = OnlineDataset(
            "darcy", 40, policy="reservoir", capacity=8, new_per_step=3, workers=workers,
            shard_size=4, part=(0, 1), resolution=9, solver="direct",
        )  # fmt: skip
        try:
            runs.append([b.inputs for e in range(2) for b in data.batches(4, seed=1, epoch=e)])
        finally:
            data.close()
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_state_mid_step_is_the_state_before_that_step(counting):
    """An interrupted step (its batch handed out, its update not done) is not in the state."""
    data = online(counting, "reservoir", new_per_step=2, epoch_size=20)
    batches = data.batches(5, seed=0)
    for _ in range(3):
        next(batches)
    mid_arrays, mid = data.state(2)  # step 2's batch is out, its update is not done
    after_arrays, after = data.state(3)  # now it is
    assert mid["drawn"] == 10 and after["drawn"] == 15
    fresh = online(counting, "reservoir", new_per_step=2, epoch_size=20)
    fresh.restore(2, mid_arrays, mid)
    replay = fresh.batches(5, seed=0, start=2)
    again = next(replay)
    fresh._settle()
    arrays, record = fresh.state(3)
    assert record == after
    for key in after_arrays:
        np.testing.assert_array_equal(arrays[key], after_arrays[key])
    assert again.inputs.shape == (5, 1, 4)


def test_a_killed_online_run_resumes_bitwise(counting, tmp_path, one_device):
    model = eqx.nn.Linear(4, 4, key=jax.random.key(0))
    settings = dict(epochs=3, batch_size=4, progress=False, mesh=one_device,
                    optimizer=optax.adam(1e-2), loss=_loss)  # fmt: skip

    def run(name, **extra):
        data = online(counting, "reservoir", new_per_step=1.5, epoch_size=12)
        return jsm.fit(model, data, checkpointing=jsm.Checkpointing(tmp_path / name, **extra),
                       **settings)  # fmt: skip

    straight, history = run("a")
    partial = online(counting, "reservoir", new_per_step=1.5, epoch_size=12)
    jsm.fit(model, partial, checkpointing=jsm.Checkpointing(tmp_path / "b"), max_steps=5,
            **settings)  # fmt: skip
    resumed, resumed_history = run("b", resume=True)
    same = jax.tree.map(lambda a, b: bool(jnp.all(a == b)), straight, resumed)
    assert all(jax.tree.leaves(same))
    keep = lambda h: [{k: v for k, v in r.items() if "seconds" not in k} for r in h]  # noqa: E731
    assert keep(resumed_history) == keep(history)
    assert history[-1]["stream.drawn"] == 36 and history[-1]["stream.reuse"] > 1


def _loss(model, batch, key):
    prediction = jax.vmap(model)(batch.inputs[:, 0])
    return jnp.mean((prediction - batch.outputs[:, 0] / 100) ** 2)


def test_resume_with_other_stream_settings_is_refused(counting, tmp_path):
    data = online(counting, "reservoir", new_per_step=2, epoch_size=20)
    next(data.batches(5, seed=0))
    arrays, record = data.state(1)
    other = online(counting, "reservoir", new_per_step=3, epoch_size=20)
    with pytest.raises(ValueError, match="same stream settings"):
        other.restore(1, arrays, record)


def test_the_solver_budget_runs_out_with_a_clear_error(counting):
    data = online(counting, "fifo", samples=30, epoch_size=40)
    with pytest.raises(StreamExhausted, match="policy='reservoir'"):
        drawn(data, 5, epochs=1)


def test_a_stream_is_read_once_in_order(counting):
    data = online(counting, "fifo", epoch_size=20)
    with pytest.raises(ValueError, match="stands at step 0, not 4"):
        next(data.batches(5, seed=0, epoch=1))


def test_head_gives_the_first_samples_and_training_still_draws_them(counting):
    data = online(counting, "fifo", epoch_size=20)
    head = data.head(6)
    assert len(head) == 6 and head.input_shape == (1, 4)
    np.testing.assert_array_equal(head.read(np.arange(6)).inputs[:, 0, 0], made(6))
    assert drawn(data, 5, epochs=1)[0] == made(5)


def test_hosts_draw_disjoint_samples(counting):
    parts = [online(counting, "fifo", epoch_size=20, part=(i, 2)) for i in range(2)]
    rows = [sum(drawn(p, 4, epochs=2), []) for p in parts]
    assert [len(r) for r in rows] == [20, 20]
    assert not set(rows[0]) & set(rows[1])


def test_an_online_run_can_leave_its_dataset(tmp_path):
    data = OnlineDataset(
        "darcy", 16, policy="fifo", capacity=4, epoch_size=8, workers=0, shard_size=4,
        part=(0, 1), directory=tmp_path, keep=True, resolution=9, solver="direct",
    )  # fmt: skip
    rows = np.concatenate([b.inputs for b in data.batches(4, seed=0)])
    data.close()
    assert tmp_path.exists() and len(list(tmp_path.glob("shard-*.h5"))) == 2
    import datagen

    datagen.generate("darcy", 16, tmp_path, shard_size=4, workers=1, progress=False,
                     resolution=9, solver="direct")  # fmt: skip
    stored = jsm.data.load(tmp_path)
    np.testing.assert_array_equal(stored.read(np.arange(8)).inputs, rows)


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(policy="lifo"), "policy must be one of"),
        (dict(capacity=0), "capacity must be a positive int"),
        (dict(policy="fifo", max_reuse=2), "belong to policy='reservoir'"),
        (dict(watermark=11), "watermark must lie in"),
        (dict(new_per_step=0), "new_per_step must be positive"),
    ],
)
def test_bad_settings_are_refused(counting, settings, message):
    with pytest.raises(ValueError, match=message):
        online(counting, **{"policy": "reservoir", **settings})


def test_a_batch_larger_than_the_buffer_is_refused(counting):
    with pytest.raises(ValueError, match="buffer holds 10"):
        next(online(counting).batches(12, seed=0))


ONLINE_CONFIG = """
[data]
path = "{path}"
generate = {{ name = "darcy", resolution = 9, solver = "direct" }}
n_test = 4

[data.online]
samples = 64
policy = "reservoir"
capacity = 8
new_per_step = 2
workers = 0
shard_size = 4
keep = true

[model]
name = "fno"
modes = [3, 3]
width = 4
depth = 1

[train]
batch_size = 4
epochs = 2
checkpoint_every = 1
"""


def test_a_configured_online_run_resumes_bitwise_and_keeps_its_samples(
    tmp_path, one_device, monkeypatch
):
    """Ctrl-C in the second epoch, as the buffer plans step 3: the run saves step 3 (the
    stream's state with it) and a resumed run ends where an uninterrupted one does."""
    from jaxsciml import config as jconfig, experiment
    from jaxsciml.data.online import SampleBuffer

    path = tmp_path / "run.toml"
    path.write_text(ONLINE_CONFIG.format(path=tmp_path / "test-data"))
    config = jconfig.load(path)
    straight, history = experiment.train(config, tmp_path / "a", progress=False,
                                         mesh=one_device, report=False)  # fmt: skip
    plan = SampleBuffer.plan

    def interrupted(self, step, *args):
        if step == 3:
            raise KeyboardInterrupt
        return plan(self, step, *args)

    monkeypatch.setattr(SampleBuffer, "plan", interrupted)
    with pytest.raises(KeyboardInterrupt):
        experiment.train(config, tmp_path / "b", progress=False, mesh=one_device, report=False)
    monkeypatch.setattr(SampleBuffer, "plan", plan)
    assert (tmp_path / "b" / "checkpoints" / "streams" / "3.part-0.npz").exists()
    resumed, resumed_history = experiment.train(
        config, tmp_path / "b", resume=True, progress=False, mesh=one_device, report=False
    )
    assert all(jax.tree.leaves(jax.tree.map(lambda a, b: bool(jnp.all(a == b)),
                                            eqx.filter(straight, eqx.is_array),
                                            eqx.filter(resumed, eqx.is_array))))  # fmt: skip
    assert resumed_history[-1]["test.relative_l2"] == history[-1]["test.relative_l2"]
    assert history[-1]["stream.generated"] == 8 + 2 * 3  # watermark, then 2 per step
    kept = sorted((tmp_path / "a" / "stream").glob("shard-*.h5"))
    assert len(kept) == 4  # the shards the stream made, as generate writes them


def test_online_configuration_errors_name_the_fix(tmp_path):
    from jaxsciml import config as jconfig

    text = ONLINE_CONFIG.format(path=tmp_path)
    cases = [
        (("samples = 64\n", ""), "needs samples"),
        (('"reservoir"', '"lifo"'), "policy must be one of"),
        (("n_test = 4", "n_test = 4\nstride = 2"), "leave \\[data\\] stride at 1"),
        (("workers = 0", "workers = 'two'"), "workers must be a int"),
    ]
    for (old, new), message in cases:
        (tmp_path / "bad.toml").write_text(text.replace(old, new))
        with pytest.raises(jconfig.ConfigError, match=message):
            jconfig.load(tmp_path / "bad.toml")
