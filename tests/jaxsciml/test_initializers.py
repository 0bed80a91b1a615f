"""The flat-draw initializers give exactly the arrays of `jax.random`'s shaped draws."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsciml.nn import initializers


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4, 5), (2, 1, 3, 2, 2)])
def test_flat_draws_equal_shaped_draws(shape):
    key = jax.random.key(11)
    np.testing.assert_array_equal(
        initializers.uniform(key, shape, jnp.float32, minval=-0.5, maxval=2.0),
        jax.random.uniform(key, shape, jnp.float32, minval=-0.5, maxval=2.0),
    )
    np.testing.assert_array_equal(
        initializers.normal(key, shape, jnp.float32), jax.random.normal(key, shape, jnp.float32)
    )
    assert initializers.uniform(key, shape).shape == shape
