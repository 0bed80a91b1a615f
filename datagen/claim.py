"""A generator run's claim on its output directory: the dataset's manifest and a lock per part.

A dataset directory holds `dataset.json`, its manifest: what the dataset is (provenance, number of
samples, shard size). The first run creates it in one atomic step; while shards are there or a run
is writing, every later run, on any machine, must match it or is refused before it writes
anything, so two datasets never mix in one directory, even when two runs start at the same
moment. A rerun that gives no shard size takes the manifest's. A manifest that binds nothing (its
run failed before its first shard) gives way to new settings.

A run also holds an exclusive lock on `.lock-part-I-of-N` while it writes, so one part is never
written by two runs at once (parts on other machines write beside it). The lock is an advisory
`flock`: the kernel releases it when the process ends in any way, SIGKILL included, so a killed
run never leaves a stale lock behind.
"""

import contextlib
import dataclasses
import fcntl
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

from datagen.format import (
    SHARD_PATTERN,
    DatasetFileError,
    Provenance,
    atomic_write,
    read_header,
)


MANIFEST = "dataset.json"
TEMPORARY = re.compile(r"^shard-\d{5}\.h5(\.(\d+))?\.tmp$")  # `atomic_write`'s, older: no pid


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What a dataset directory holds: the `provenance`, `num_samples` planned, `shard_size`."""

    provenance: Provenance
    num_samples: int
    shard_size: int

    def to_json(self) -> str:
        record = {
            "provenance": self.provenance.to_attrs(),
            "num_samples": self.num_samples,
            "shard_size": self.shard_size,
        }
        return json.dumps(record, sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        record = json.loads(text)
        return cls(
            Provenance.from_attrs(record["provenance"]),
            int(record["num_samples"]),
            int(record["shard_size"]),
        )


def _from_shards(out: Path) -> Manifest | None:
    """The manifest that the shards of a directory written before manifests existed imply."""
    for path in sorted(p for p in out.iterdir() if SHARD_PATTERN.match(p.name)):
        try:
            header = read_header(path)
        except DatasetFileError:
            continue
        size = len(header.sample_index) + len(header.failed_samples)
        if header.num_shards > 1 and header.shard_index == header.num_shards - 1:
            continue  # the last shard may be short
        return Manifest(header.provenance, header.num_samples_total, size)
    return None


def _read(path: Path) -> Manifest:
    try:
        return Manifest.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatasetFileError(
            f"{path} cannot be read ({error}); it says what the dataset in its directory is. "
            "Delete the directory to regenerate the dataset."
        ) from error


def settle_manifest(
    out: Path,
    provenance: Provenance,
    num_samples: int,
    shard_size: int | None,
    default: int,
    *,
    own_lock: Path | None = None,
    write: bool = True,
) -> Manifest:
    """The manifest of `out` for these settings (`shard_size=None` takes the stored one, else
    `default`). Raises `DatasetFileError` when the settings describe another dataset than the
    one `out` is bound to: by shards already there, or by a run writing now (another than the
    one holding `own_lock`). A manifest that binds nothing (a run that failed before its first
    shard) gives way. With `write`, creates or replaces the manifest (atomically: of two runs
    creating one at once, the second then meets the first's)."""
    path = out / MANIFEST
    stored = _read(path) if path.exists() else _from_shards(out)
    size = shard_size if shard_size is not None else (stored.shard_size if stored else default)
    wanted = Manifest(provenance, num_samples, size)
    if stored is None and write:
        temporary = atomic_write(out / f".{MANIFEST}.{os.getpid()}", wanted.to_json().encode())
        try:
            os.link(temporary, path)  # fails if another run made one first
            return wanted
        except FileExistsError:
            stored = _read(path)
        finally:
            temporary.unlink(missing_ok=True)
    if stored is not None and stored != wanted:
        if _holds_shards(out) or _being_written(out, own_lock):
            raise _conflict(out, stored, wanted, shard_size)
    if write and (stored != wanted or not path.exists()):
        atomic_write(path, wanted.to_json().encode())
    return wanted


def _conflict(out: Path, stored: Manifest, wanted: Manifest, shard_size) -> DatasetFileError:
    again = "write to a new directory, or delete this one to regenerate."
    if stored.provenance != wanted.provenance:
        return DatasetFileError(
            f"{out} belongs to a different dataset ({stored.provenance}); {again}"
        )
    if stored.num_samples != wanted.num_samples:
        return DatasetFileError(
            f"{out} belongs to a dataset of {stored.num_samples} samples, not "
            f"{wanted.num_samples}; {again}"
        )
    return DatasetFileError(
        f"{out} is written in shards of {stored.shard_size} samples, not {shard_size}; rerun "
        f"with shard size {stored.shard_size} (or none) to finish it, or {again}"
    )


def _holds_shards(out: Path) -> bool:
    return any(SHARD_PATTERN.match(p.name) for p in out.iterdir())


def _being_written(out: Path, own_lock: Path | None) -> bool:
    """Whether a run (other than the holder of `own_lock`) holds the lock of a part of `out`."""
    for path in out.glob(".lock-part-*"):
        if own_lock is not None and path.name == own_lock.name:
            continue
        descriptor = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(descriptor)  # releases the lock if it was taken
    return False


def _alive(pid: int) -> bool:
    """Whether process `pid` still runs. A zombie (killed, not yet reaped: an orphaned worker
    whose reaper is slow or absent, as in some containers) answers signals but writes no more:
    it counts as dead, else its temporary file would stay forever."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):  # no /proc (macOS): the signal's answer stands
        return True
    return state not in ("Z", "X")


def remove_abandoned_temporaries(out: Path) -> list[Path]:
    """Remove the temporary shard files of runs that died mid-write (their process is gone)."""
    removed = []
    for path in out.iterdir():
        match = TEMPORARY.match(path.name)
        if match and (match.group(2) is None or not _alive(int(match.group(2)))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def part_lock(out: Path, part: tuple[int, int]) -> Iterator[Path]:
    """Hold `out`'s lock on part `(i, N)` (yields the lock file); another run holding it makes
    this raise `DatasetFileError` naming its process."""
    index, parts = part
    path = out / f".lock-part-{index}-of-{parts}"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
            raise DatasetFileError(
                f"another datagen run (process {holder}) is writing part {index} of {parts} of "
                f"{out}; wait for it to finish, or stop it and rerun to finish the dataset."
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(descriptor)
