"""The runtime shape checker (jaxtyping + beartype, from pyproject's pytest options) is on."""

import jax.numpy as jnp
import pytest
from jaxtyping import TypeCheckError

from jaxsciml import losses
from jaxsciml.nn import PointwiseLinear


def test_annotated_dtypes_are_enforced(getkey):
    layer = PointwiseLinear(2, 3, key=getkey())
    with pytest.raises(TypeCheckError):
        layer(jnp.zeros((2, 4), dtype=jnp.int32))  # annotated Float[Array, ...]


def test_annotated_shapes_are_enforced():
    # Both arguments are annotated "c *spatial": different grids violate the annotation.
    with pytest.raises(TypeCheckError):
        losses.relative_l2(jnp.zeros((1, 4, 4)), jnp.ones((1, 5, 5)))
