"""Building blocks shared by several operators."""

from jaxsciml.nn.activations import (
    gelu as gelu,
    silu_id as silu_id,
    silu_sin as silu_sin,
    tanh_sin as tanh_sin,
)
from jaxsciml.nn.base import (
    AbstractGridOperator as AbstractGridOperator,
    apply_batch as apply_batch,
)
from jaxsciml.nn.encoders import ConvEncoder as ConvEncoder
from jaxsciml.nn.frozen import (
    AbstractFrozen as AbstractFrozen,
    trainable_filter as trainable_filter,
)
from jaxsciml.nn.grid import (
    append_coordinates as append_coordinates,
    grid_coordinates as grid_coordinates,
)
from jaxsciml.nn.padding import (
    crop_both as crop_both,
    crop_high as crop_high,
    pad_both as pad_both,
    pad_high as pad_high,
    padding_widths as padding_widths,
)
from jaxsciml.nn.parameters import count_parameters as count_parameters
from jaxsciml.nn.pointwise import (
    PointwiseLinear as PointwiseLinear,
    PointwiseMLP as PointwiseMLP,
    mix_channels as mix_channels,
)
from jaxsciml.nn.spectral import (
    SpectralConv as SpectralConv,
    check_modes_fit as check_modes_fit,
    inverse_truncated_dft as inverse_truncated_dft,
    kept_mode_shape as kept_mode_shape,
    prefers_matrix_dft as prefers_matrix_dft,
    truncated_dft as truncated_dft,
)
