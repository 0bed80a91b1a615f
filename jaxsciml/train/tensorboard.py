"""TensorBoard event files, written without TensorFlow or PyTorch.

An event file is a sequence of TFRecords (`uint64` length, its masked CRC-32C, the bytes,
their masked CRC-32C), each an `Event` protocol buffer: the first names the file version, the
others carry a `Summary` of `simple_value` scalars at a step. This module encodes those few
messages by hand (protocol-buffer wire format), so that `TensorBoardLogger` needs nothing
installed; `tensorboard --logdir RUN/tensorboard` reads what it writes.
"""

import os
import socket
import struct
import time
from pathlib import Path

import jax

from jaxsciml.train.log import AbstractLogger, scalars


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)  # Castagnoli, reflected
        table.append(crc)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """The CRC-32C (Castagnoli) checksum of `data`."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    """TFRecord's masked checksum: the CRC rotated right by 15 bits plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tf_record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return (
        length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))
    )


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def event(wall_time: float, step: int, *, file_version: str = "", values=None) -> bytes:
    """An `Event`: `wall_time` (1, double), `step` (2, int64), `file_version` (3, string) or a
    `Summary` (5) of `Value`s, each a `tag` (1, string) and a `simple_value` (2, float)."""
    message = _key(1, 1) + struct.pack("<d", wall_time) + _key(2, 0) + _varint(step)
    if file_version:
        message += _bytes_field(3, file_version.encode())
    if values:
        summary = b"".join(
            _bytes_field(1, _bytes_field(1, tag.encode()) + _key(2, 5) + struct.pack("<f", v))
            for tag, v in values.items()
        )
        message += _bytes_field(5, summary)
    return message


class TensorBoardLogger(AbstractLogger):
    """Every epoch's numbers as TensorBoard scalars at its step, in an event file under
    `directory` (e.g. `RUN/tensorboard`; `tensorboard --logdir RUN/tensorboard`). On resume the
    file is written anew from the checkpointed history, so it never shows steps twice."""

    SUFFIX = ".jaxsciml"

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.active = jax.process_index() == 0
        self._file = None

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for old in self.directory.glob(f"events.out.tfevents.*{self.SUFFIX}"):
            old.unlink()  # this logger's own earlier files: the history replaces them
        name = f"events.out.tfevents.{time.time():.0f}.{socket.gethostname()}.{os.getpid()}"
        self._file = open(self.directory / (name + self.SUFFIX), "wb")
        self._write(event(time.time(), 0, file_version="brain.Event:2"))

    def _write(self, data: bytes) -> None:
        self._file.write(tf_record(data))

    def rewrite(self, records: list[dict]) -> None:
        if not self.active:
            return
        self.close()
        self._open()
        for record in records:
            self._write(event(time.time(), int(record["step"]), values=scalars(record)))
        self._file.flush()

    def append(self, record: dict) -> None:
        if not self.active:
            return
        if self._file is None:
            self._open()
        self._write(event(time.time(), int(record["step"]), values=scalars(record)))
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
