"""The generator side of online training: a stream hands out exactly what `generate` would
store, in order, whatever the number of workers, from any position, for any part."""

import itertools

import numpy as np
import pytest

import datagen
from datagen.format import list_shards
from datagen.stream import ShardStream, StreamPosition


DARCY = dict(resolution=9, solver="direct")


def numbers(stream, start=StreamPosition()):
    return [sample.number for sample in stream.samples(start)]


def test_stream_hands_out_what_generate_stores_with_any_number_of_workers(tmp_path):
    stored = datagen.generate(
        "darcy", 20, tmp_path / "stored", shard_size=6, seed=4, workers=1, progress=False, **DARCY
    )
    assert stored.num_samples == 20
    headers = list_shards(tmp_path / "stored")
    expected = np.concatenate([h.sample_index for h in headers])
    runs = []
    for workers in (0, 2):
        generator = datagen.family("darcy").make(**DARCY)
        with ShardStream(generator, 20, tmp_path / f"w{workers}", seed=4, shard_size=6,
                         workers=workers) as stream:  # fmt: skip
            runs.append(list(stream.samples()))
            assert stream.statistics.samples == 20 and stream.statistics.shards_made == 4
    for run in runs:
        assert [sample.number for sample in run] == expected.tolist()
    for (_, _, x0, y0, _), (_, _, x2, y2, _) in zip(*runs):
        np.testing.assert_array_equal(x0, x2)
        np.testing.assert_array_equal(y0, y2)
    import h5py

    with h5py.File(headers[1].path) as f:
        np.testing.assert_array_equal(runs[0][6][2], f["inputs"][0])
        np.testing.assert_array_equal(runs[0][6][3], f["outputs"][0])


def test_a_stream_restarts_at_any_position(tmp_path, counting):
    with ShardStream(counting(), 30, tmp_path, shard_size=4, workers=0) as stream:
        everything = list(stream.samples())
        for cut in (0, 5, 11, len(everything) - 1):
            position = everything[cut - 1][0] if cut else StreamPosition()
            assert numbers(stream, position) == [s.number for s in everything[cut:]]


def test_unconverged_solves_never_come_out(tmp_path, counting):
    with ShardStream(counting(), 30, tmp_path, shard_size=4, workers=0) as stream:
        out = list(stream.samples())
        assert [s.number for s in out] == [i for i in range(30) if i % 7 != 3]
        assert stream.statistics.failed == 30 - len(out) == sum(s.failed for s in out)
        # reported with their shard's first stored sample: 3 (shard 0), 10 (2), 17 (4), 24 (6)
        assert [s.number for s in out if s.failed] == [0, 8, 16, 25]


def test_parts_split_the_samples(tmp_path, counting):
    parts = []
    for index in range(2):
        with ShardStream(counting(), 30, tmp_path, shard_size=4, workers=0,
                         part=(index, 2)) as stream:  # fmt: skip
            parts.append(numbers(stream))
    assert not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == [i for i in range(30) if i % 7 != 3]
    assert parts[1][:4] == [4, 5, 6, 7]  # shard 1 is part 1's first


def test_kept_shards_complete_with_generate_and_are_read_back(tmp_path):
    generator = datagen.family("darcy").make(**DARCY)
    with ShardStream(generator, 12, tmp_path, shard_size=4, workers=0, keep=True) as stream:
        first = list(itertools.islice(stream.samples(), 5))  # two shards made and written
    assert len(list(tmp_path.glob("shard-*.h5"))) == 2
    report = datagen.generate(
        "darcy", 12, tmp_path, shard_size=4, workers=1, progress=False, **DARCY
    )
    assert report.shards_skipped == 2 and report.shards_written == 1 and report.num_samples == 12
    with ShardStream(generator, 12, tmp_path, shard_size=4, workers=0, keep=True) as stream:
        again = list(stream.samples())
        assert stream.statistics.shards_read == 3 and stream.statistics.shards_made == 0
    for (_, n, x, y, _), (_, m, u, v, _) in zip(first, again):
        assert n == m
        np.testing.assert_array_equal(x, u)
        np.testing.assert_array_equal(y, v)


def test_generation_runs_at_most_lookahead_shards_ahead(tmp_path, counting):
    stream = ShardStream(counting(), 40, tmp_path, shard_size=2, workers=0, lookahead=3)
    made, submit = [], stream._submit

    def counted(task):
        made.append(task.shard_index)
        return submit(task)

    stream._submit = counted
    taken = 0
    for sample in stream.samples():
        taken += 1
        shards_taken = sample.position.shard + (sample.position.offset > 0)
        assert len(made) <= shards_taken + 3
    assert taken == 40 - len([i for i in range(40) if i % 7 == 3])
    stream.close()


def test_bad_settings_are_refused(tmp_path, counting):
    with pytest.raises(ValueError, match="workers"):
        ShardStream(counting(), 10, tmp_path, workers=-1)
    with pytest.raises(ValueError, match="lookahead"):
        ShardStream(counting(), 10, tmp_path, lookahead=0)
    with pytest.raises(ValueError, match="n must be positive"):
        ShardStream(counting(), 0, tmp_path)
