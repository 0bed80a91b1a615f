"""Loggers of `fit`: TensorBoard event files (read back by TensorBoard's own reader), wandb in
offline mode (read back from its run file with wandb's protocol buffers), several at once."""

import struct

import jax
import numpy as np
import optax
import pytest

import jaxsciml as jsm
from jaxsciml.config import ConfigError, load as load_config
from jaxsciml.experiment import run_loggers
from jaxsciml.train import MetricsFile, TensorBoardLogger, WandbLogger
from jaxsciml.train.tensorboard import crc32c


def _train(logger, epochs=3):
    rng = np.random.default_rng(0)
    data = jsm.data.from_arrays(rng.normal(size=(16, 1, 8)), rng.normal(size=(16, 1, 8)))
    model = jsm.FNO(1, 1, modes=(3,), width=4, depth=1, key=jax.random.key(0))
    _, history = jsm.fit(
        model, data, epochs=epochs, batch_size=8, optimizer=optax.adam(1e-2),
        logger=logger, progress=False,
    )  # fmt: skip
    return history


def test_crc32c_matches_the_standard_check_value():
    assert crc32c(b"123456789") == 0xE3069283  # RFC 3720, appendix B.4
    assert crc32c(b"") == 0


def test_tensorboard_reads_the_event_files(tmp_path):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    history = _train([MetricsFile(tmp_path / "metrics.jsonl"), TensorBoardLogger(tmp_path / "tb")])
    events = accumulator.EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert set(events.Tags()["scalars"]) >= {"train_loss", "seconds"}
    losses = events.Scalars("train_loss")
    assert [e.step for e in losses] == [r["step"] for r in history] == [2, 4, 6]
    np.testing.assert_allclose([e.value for e in losses], [r["train_loss"] for r in history])
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == 3

    logger = TensorBoardLogger(tmp_path / "tb")  # a resumed run writes its history anew
    logger.rewrite(history[:2])
    logger.close()
    assert len(list((tmp_path / "tb").iterdir())) == 1
    events = accumulator.EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert [e.step for e in events.Scalars("train_loss")] == [2, 4]


def _wandb_history(run_file) -> list[dict]:
    """The history records of a wandb run file: a log of 32 KiB blocks after a 7-byte header,
    each record a 7-byte header (checksum, length, kind) and a chunk of a `Record` message."""
    from wandb.proto import wandb_internal_pb2

    data, records, payload, position, block = run_file.read_bytes(), [], b"", 7, 32768
    while position + 7 <= len(data):
        if block - position % block < 7:
            position += block - position % block
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        payload += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a whole record, or the last chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(payload)
            if record.WhichOneof("record_type") == "history":
                items = record.history.item
                records.append(
                    {i.key or "/".join(i.nested_key): float(i.value_json) for i in items}
                )
            payload = b""
    return records


def test_wandb_logs_every_epoch_offline(tmp_path):
    pytest.importorskip("wandb")
    logger = WandbLogger(project="jaxsciml-test", mode="offline", dir=str(tmp_path))
    history = _train(logger)
    (run_file,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    logged = _wandb_history(run_file)
    assert [r["_step"] for r in logged] == [2, 4, 6]
    np.testing.assert_allclose(
        [r["train_loss"] for r in logged], [r["train_loss"] for r in history]
    )


def test_configured_loggers(tmp_path):
    config = load_config(overrides=["train.loggers=['tensorboard', 'wandb']"])
    kinds = [type(logger) for logger in run_loggers(config, tmp_path)]
    assert kinds == [MetricsFile, TensorBoardLogger, WandbLogger]
    with pytest.raises(ConfigError, match="loggers must be among"):
        load_config(overrides=["train.loggers=['mlflow']"])
