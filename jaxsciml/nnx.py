"""Flax NNX adapters, both ways (the `flax` extra: `pip install 'jaxsciml[flax]'`).

- `to_nnx(model)`: any jaxsciml (equinox) model as an `nnx.Module` whose trained arrays are
  `nnx.Param`s (constants, such as a normalizer's statistics, are `Constant` variables), so it
  sits inside a user's own `nnx.Module` and trains with `nnx.Optimizer(..., wrt=nnx.Param)`.
- `from_nnx(module)`: any `nnx.Module` as an equinox model that `jaxsciml.fit` trains: its
  `nnx.Param`s are trained; every other variable (batch statistics, RNG state) travels with it
  as a constant.

Both compute exactly what the wrapped model computes; gradients agree with the equinox path.

    fno = jsm.FNO(1, 1, modes=(12, 12), width=32, key=key)
    layer = jsm.nnx.to_nnx(fno)                       # inside any nnx.Module
    optimizer = nnx.Optimizer(layer, optax.adam(1e-3), wrt=nnx.Param)

    model = jsm.nnx.from_nnx(MyNNXNet(rngs=nnx.Rngs(0)))
    model, history = jsm.fit(model, data, epochs=10)
"""

from typing import Any

import equinox as eqx
import jax

from jaxsciml.nn.frozen import AbstractFrozen
from jaxsciml.train.step import split_model


try:
    from flax import nnx
except ImportError as error:
    raise ImportError("jaxsciml.nnx needs Flax: pip install 'jaxsciml[flax]'") from error


class Constant(nnx.Variable):
    """An array of a wrapped equinox model that training keeps fixed."""


class EquinoxModule(nnx.Module):
    """An equinox model as an `nnx.Module` (see `to_nnx`). `model` rebuilds the equinox model
    from the current variables (e.g. for `model.batched`, or to save it with
    `jaxsciml.save_model`)."""

    def __init__(self, model: eqx.Module):
        params, constants, static = split_model(model)
        param_leaves, self._params_tree = jax.tree.flatten(params)
        constant_leaves, self._constants_tree = jax.tree.flatten(constants)
        self.params = nnx.List([nnx.Param(leaf) for leaf in param_leaves])
        self.constants = nnx.List([Constant(leaf) for leaf in constant_leaves])
        self._static = static

    @property
    def model(self) -> eqx.Module:
        params = jax.tree.unflatten(self._params_tree, [v[...] for v in self.params])
        constants = jax.tree.unflatten(self._constants_tree, [v[...] for v in self.constants])
        return eqx.combine(params, constants, self._static)

    def __call__(self, *args, **kwargs):
        return self.model(*args, **kwargs)


def to_nnx(model: eqx.Module) -> EquinoxModule:
    """`model` as an `nnx.Module` whose trained arrays are `nnx.Param`s."""
    return EquinoxModule(model)


class _Variables(AbstractFrozen):
    """The variables of an `nnx.Module` that are not `nnx.Param`s: constants to `fit`."""

    state: Any


class NNXModel(eqx.Module):
    """An `nnx.Module` as an equinox model (see `from_nnx`); `module` rebuilds it."""

    graphdef: Any = eqx.field(static=True)
    params: Any  # nnx.State of the nnx.Params: trained
    rest: _Variables

    def __init__(self, module: nnx.Module):
        self.graphdef, self.params, rest = nnx.split(module, nnx.Param, ...)
        self.rest = _Variables(rest)

    @property
    def module(self) -> nnx.Module:
        return nnx.merge(self.graphdef, self.params, self.rest.state)

    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)


def from_nnx(module: nnx.Module) -> NNXModel:
    """`module` as an equinox model whose trained arrays are its `nnx.Param`s."""
    return NNXModel(module)
