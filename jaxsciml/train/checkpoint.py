"""Checkpoints of a whole training state with orbax's `CheckpointManager`.

A checkpoint holds the model's arrays (trained and frozen), the optimizer state, the step and the
RNG key, as a flat list of arrays, plus a JSON record: the tree paths of those arrays (checked
on restore, so a checkpoint never loads into a different model), the settings that fix the data
order, and the training history so far. Arrays are copied to the host before the asynchronous
write starts, so training may donate and overwrite its buffers while orbax writes.
"""

import io
import json
import os
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from datagen.format import atomic_write


class CheckpointMismatchError(ValueError):
    """A checkpoint does not belong to this model or these training settings."""


STREAMS = "streams"  # the data streams' states, beside orbax's step folders
RECORD = "__record__"


def tree_paths(tree) -> list[str]:
    """The path of every leaf of `tree`, as `jax.tree_util.keystr` writes it."""
    return [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_leaves_with_path(tree)]


class Checkpointer:
    """Periodic, asynchronous checkpoints in `directory`, keeping the newest `keep`.

    **Arguments:**

    - `directory`: where checkpoints go (one sub-folder per step).
    - `keep`: how many of the newest checkpoints to keep.
    """

    def __init__(self, directory: str | os.PathLike, keep: int = 3):
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, state, record: dict) -> None:
        """Save the pytree of arrays `state` and the JSON-able `record` at `step`."""
        leaves = [np.array(leaf, copy=True) for leaf in jax.tree.leaves(state)]
        record = {**record, "paths": tree_paths(state), "step": step}
        self._manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(leaves), record=ocp.args.JsonSave(record)
            ),
            force=True,
        )

    def _stream_path(self, step: int) -> Path:
        return self.directory / STREAMS / f"{step}.part-{jax.process_index()}.npz"

    def save_stream(self, step: int, arrays: dict, record: dict) -> None:
        """Save this host's data-stream state of `step` (`jaxsciml.data.AbstractStream`),
        written atomically before the checkpoint of `step` itself, and drop those of
        checkpoints no longer kept."""
        image = io.BytesIO()
        np.savez(image, **arrays, **{RECORD: np.frombuffer(json.dumps(record).encode(), np.uint8)})
        path = self._stream_path(step)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, image.getvalue())
        kept = {*self._manager.all_steps(), step}
        for old in path.parent.glob(f"*.part-{jax.process_index()}.npz"):
            if int(old.name.split(".")[0]) not in kept:
                old.unlink(missing_ok=True)

    def load_stream(self, step: int) -> tuple[dict, dict]:
        """This host's data-stream state saved with the checkpoint of `step`."""
        path = self._stream_path(step)
        if not path.exists():
            raise CheckpointMismatchError(
                f"the checkpoint of step {step} in {self.directory} holds no state of a data "
                f"stream ({path} is missing): it was made by a run on stored data, or on "
                "another host; resume with the data it was made with."
            )
        with np.load(path) as stored:
            arrays = {k: stored[k] for k in stored.files if k != RECORD}
            record = json.loads(stored[RECORD].tobytes().decode())
        return arrays, record

    def _record(self, step: int) -> dict:
        return self._manager.restore(step, args=ocp.args.Composite(record=ocp.args.JsonRestore()))[
            "record"
        ]

    def restore(self, step: int, like):
        """The state saved at `step`, as a pytree shaped like `like`, and its record.

        Raises `CheckpointMismatchError` when the checkpoint's tree paths, shapes or dtypes differ
        from `like`'s.
        """
        record = self._record(step)
        expected = tree_paths(like)
        if record["paths"] != expected:
            differ = sorted(set(record["paths"]).symmetric_difference(expected))[:5]
            raise CheckpointMismatchError(
                f"the checkpoint in {self.directory} (step {step}) was written for a different "
                f"model or optimizer; paths that differ: {differ}. Use a new checkpoint directory."
            )
        template = [np.zeros(np.shape(x), np.asarray(x).dtype) for x in jax.tree.leaves(like)]
        restored = self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(template))
        )["state"]
        _check_leaves(expected, restored, template)
        return jax.tree.unflatten(jax.tree.structure(like), restored), record

    def restore_items(self, step: int, like: dict) -> dict:
        """Only the entries of the saved state (a dict) that `like` names, e.g. the model's
        arrays without the optimizer state, shaped like `like`."""
        saved_paths = self._record(step)["paths"]
        restored = self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore())
        )["state"]
        expected = tree_paths(like)
        missing = sorted(set(expected) - set(saved_paths))[:5]
        if missing:
            raise CheckpointMismatchError(
                f"the checkpoint in {self.directory} (step {step}) was written for a different "
                f"model; it lacks {missing}."
            )
        position = {path: i for i, path in enumerate(saved_paths)}
        leaves = [np.asarray(restored[position[path]]) for path in expected]
        template = [np.asarray(x) for x in jax.tree.leaves(like)]
        _check_leaves(expected, leaves, template)
        return jax.tree.unflatten(jax.tree.structure(like), leaves)

    def wait(self) -> None:
        """Block until every asynchronous save has reached the disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()


def _check_leaves(paths, saved, wanted) -> None:
    for path, a, b in zip(paths, saved, wanted):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise CheckpointMismatchError(
                f"{path} is {a.dtype}{list(a.shape)} in the checkpoint but {b.dtype}"
                f"{list(b.shape)} in the model; use a new checkpoint directory or build the "
                "model with the settings of the checkpointed run."
            )
