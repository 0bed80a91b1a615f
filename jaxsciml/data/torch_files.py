"""neuraloperator's `.pt` datasets (e.g. `darcy_train_16.pt`): a dict of tensors `x` and `y`.

Read with `torch.load(..., weights_only=True)`, so that no code in the file runs, and memory-
mapped where the file allows (a large file is not loaded), one sample at a time. Needs PyTorch
(`pip install 'jaxsciml[torch]'`); nothing else in jaxsciml does.
"""

import os

from datagen.format import DatasetFileError
from jaxsciml.data.plain import KeyedSource


def default_layout(ndim: int) -> str:
    """neuraloperator's own convention: `(n, h, w)` without a channel axis for 2-D fields,
    `(n, x)` in 1-D, channels first `(n, c, ...)` for arrays of rank four and more."""
    spatial = ["x", "y", "z", "s3", "s4"]
    if ndim <= 3:
        return " ".join(["n", *spatial[: ndim - 1]])
    return " ".join(["n", "c", *spatial[: ndim - 2]])


def load_torch_file(path) -> dict:
    """The dict a `.pt` file holds, loaded with `weights_only=True` (memory-mapped if it can)."""
    try:
        import torch
    except ImportError as error:
        raise DatasetFileError(
            f"{path} is a PyTorch file; reading it needs PyTorch: pip install 'jaxsciml[torch]'"
        ) from error
    try:
        try:
            content = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # files in the legacy (non-zip) format cannot be memory-mapped
            content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise DatasetFileError(
            f"{path} could not be read as a PyTorch file holding only tensors (weights_only=True: "
            f"no code in it is run): {error}"
        ) from error
    if not isinstance(content, dict):
        raise DatasetFileError(f"{path} holds a {type(content).__name__}, not a dict of tensors")
    return content


class TorchSource(KeyedSource):
    """Tensors `inputs` and `outputs` (default `x`, `y`) of a `.pt` file, laid out as `layout`
    names their axes (default: `default_layout`)."""

    def __init__(
        self,
        path: str | os.PathLike,
        inputs: str = "x",
        outputs: str = "y",
        layout: str | None = None,
        output_layout: str | None = None,
    ):
        super().__init__(path, inputs, outputs, layout, output_layout)

    def _open(self):
        return load_torch_file(self.path)

    def _layouts(self, layout, output_layout, arrays):
        first = layout or default_layout(arrays[0].ndim)
        return first, output_layout or (layout if layout else default_layout(arrays[1].ndim))

    @property
    def metadata(self) -> dict:
        return {**super().metadata, "format": "torch"}
