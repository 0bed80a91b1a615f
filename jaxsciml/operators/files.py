"""Model files: a model's constructor arguments (JSON) and its arrays, in one file.

Every registered model class records the arguments it was built with (`recorded`), in a form
that JSON holds: numbers, strings, lists; activations by name; a `Box` by its bounds; a nested
model by its own record; an array argument (training data a model derives arrays from, such as
DGNO's coefficient samples) by its shape only, since the arrays it determines are saved anyway.
`save_model` writes that record and the arrays (equinox's serialisation, with a checksum);
`load_model` rebuilds the skeleton from the record and reads the arrays into it. Loading runs
no code from the file: only the registered constructors, with checked arguments.

File layout: one line of JSON (the header), then the arrays as `eqx.tree_serialise_leaves`
writes them.
"""

import functools
import hashlib
import inspect
import io
import json
import os
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxsciml.data.normalize import GaussianNormalizer
from jaxsciml.nn import activations
from jaxsciml.physics.domain import Box


FORMAT = "jaxsciml-model"
VERSION = 1
RECORDED: dict[str, type] = {}  # class name -> class, for every recorded model class
ACTIVATIONS = {
    "gelu": activations.gelu,
    "tanh_sin": activations.tanh_sin,
    "silu_sin": activations.silu_sin,
    "silu_id": activations.silu_id,
    "tanh": jnp.tanh,
    "sin": jnp.sin,
    "relu": jax.nn.relu,
    "silu": jax.nn.silu,
    "gelu_tanh": jax.nn.gelu,
}


class ModelFileError(ValueError):
    """A model file is damaged, of another format, or not loadable by this version."""


class NotRecordable(ValueError):
    """A constructor argument that a model file cannot hold."""


def _encode(value, where: str):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.floating | np.integer):
        return value.item()
    if isinstance(value, tuple | list):
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Box):
        return {"box": {"lower": list(value.lower), "upper": list(value.upper),
                        "time_axis": value.time_axis}}  # fmt: skip
    if isinstance(value, GaussianNormalizer):
        return {"normalizer": {"shape": list(value.mean.shape), "eps": value.eps}}
    if isinstance(value, np.ndarray | jax.Array):
        return {"array": {"shape": list(value.shape)}}
    if callable(value) and not isinstance(value, eqx.Module):
        for name, function in ACTIVATIONS.items():
            if value is function:
                return {"activation": name}
    if isinstance(value, eqx.Module) and type(value).__name__ in RECORDED:
        return {"model": model_record(value)}
    raise NotRecordable(
        f"{where} = {value!r} cannot be written to a model file (numbers, strings, lists, "
        f"activations named in {sorted(ACTIVATIONS)}, boxes, normalizers, arrays and registered "
        "models can)"
    )


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    ((kind, content),) = value.items()
    if kind == "box":
        return Box(content["lower"], content["upper"], time_axis=content["time_axis"])
    if kind == "normalizer":
        shape = tuple(content["shape"])
        return GaussianNormalizer(jnp.zeros(shape), jnp.ones(shape), content["eps"])
    if kind == "array":  # a stand-in: the arrays it determines are read from the file
        shape = tuple(content["shape"])
        return (np.arange(int(np.prod(shape))) % 2).reshape(shape).astype(np.float32)
    if kind == "activation":
        return ACTIVATIONS[content]
    if kind == "model":
        return build_recorded(content)
    raise ModelFileError(f"unknown argument kind {kind!r} in a model file")


def recorded(cls):
    """Class decorator: instances record the arguments they were built with (all but `key`)
    in their static field `arguments` (JSON text, or `"!"` and the reason it cannot be
    recorded), so that `save_model` can write them."""
    init = cls.__init__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs).arguments
        try:
            arguments = {
                name: _encode(value, f"{cls.__name__}({name}=...)")
                for name, value in bound.items()
                if name not in ("self", "key")
            }
            self.arguments = json.dumps(arguments, sort_keys=True)
        except NotRecordable as error:
            self.arguments = "!" + str(error)

    cls.__init__ = __init__
    RECORDED[cls.__name__] = cls
    return cls


def model_record(model: eqx.Module) -> dict:
    """`{"class": ..., "arguments": {...}}` of a recorded model; raises if it cannot be saved."""
    name = type(model).__name__
    if name not in RECORDED:
        raise NotRecordable(
            f"{name} is not a registered model class ({', '.join(sorted(RECORDED))}); save "
            "its arrays with eqx.tree_serialise_leaves instead"
        )
    if model.arguments.startswith("!"):
        raise NotRecordable(model.arguments[1:])
    return {"class": name, "arguments": json.loads(model.arguments)}


def build_recorded(record: dict) -> eqx.Module:
    """A model of the recorded class and arguments, with fresh arrays (a skeleton)."""
    if record.get("class") not in RECORDED:
        raise ModelFileError(
            f"unknown model class {record.get('class')!r}; known: {', '.join(sorted(RECORDED))}"
        )
    cls = RECORDED[record["class"]]
    arguments = {name: _decode(value) for name, value in record["arguments"].items()}
    if "key" in inspect.signature(cls).parameters:
        arguments["key"] = jax.random.key(0)
    return cls(**arguments)


def save_model(path: str | os.PathLike, model: eqx.Module) -> Path:
    """Write `model` (a registered model, trained or not) to one file at `path`, atomically.

    The file holds the constructor arguments and every array (normalizer statistics included);
    `load_model(path)` returns an equal model with nothing to rebuild.
    """
    header = {"format": FORMAT, "version": VERSION, **model_record(model)}
    arrays = io.BytesIO()
    eqx.tree_serialise_leaves(arrays, model)
    header["sha256"] = hashlib.sha256(arrays.getvalue()).hexdigest()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as f:
        f.write((json.dumps(header) + "\n").encode())
        f.write(arrays.getvalue())
    os.replace(temporary, path)
    return path


def load_model(path: str | os.PathLike) -> eqx.Module:
    """The model that `save_model` wrote to `path`.

    Raises `ModelFileError` for a file that is not a model file, is damaged (checksum) or was
    written for arrays of other shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    with path.open("rb") as f:
        first = f.readline()
        arrays = f.read()
    try:
        header = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a jaxsciml model file (jsm.save_model writes them)")
    if header.get("version") != VERSION:
        raise ModelFileError(f"{path} has model file version {header.get('version')}; "
                             f"this jaxsciml reads version {VERSION}")  # fmt: skip
    if hashlib.sha256(arrays).hexdigest() != header.get("sha256"):
        raise ModelFileError(f"{path} is damaged: its arrays do not match their checksum")
    skeleton = build_recorded(header)
    try:
        return eqx.tree_deserialise_leaves(io.BytesIO(arrays), skeleton)
    except Exception as error:  # shapes or counts that do not match the recorded arguments
        raise ModelFileError(
            f"{path}: the arrays do not fit the recorded model: {error}"
        ) from error
