"""Any 2-D grid operator on multigrid patches of its input (MG-TFNO's domain decomposition; the
patches are made and stitched by `jaxsciml.nn.patching`)."""

from collections.abc import Sequence

import equinox as eqx
from jaxtyping import Array, Float, PRNGKeyArray

from jaxsciml.nn.base import AbstractGridOperator
from jaxsciml.nn.patching import make_patches, stitch_patches
from jaxsciml.operators.files import recorded
from jaxsciml.operators.fno import FNO


@recorded
class MultigridPatching(AbstractGridOperator):
    """`model` applied to the multigrid patches of its input and stitched back: `(c, H, H)` in,
    `(c_out, H, H)` out, for any `model` that maps `(c · (1 + levels), s + 2p, s + 2p)` patches
    to `(c_out, s + 2p, s + 2p)` (`s = H / 2^levels`, `p = round(padding · H)`). The patches of
    a batch form one batch for `model`, so they run in parallel wherever its samples do.

    With `model` an FNO with `joint_factorization=True` this is MG-TFNO.
    """

    arguments: str = eqx.field(static=True, repr=False)  # see `recorded`
    model: AbstractGridOperator
    levels: int = eqx.field(static=True)
    padding: float = eqx.field(static=True)

    def __init__(self, model: AbstractGridOperator, levels: int = 1, padding: float = 0.0):
        """**Arguments:** the patch `model`; `levels` (`2^levels` patches per axis, each with
        `levels` coarser views of its surroundings); `padding`, the neighbours' points each
        patch takes on every side, as a fraction of the grid (neuraloperator's
        `padding_fraction`)."""
        if levels < 0 or not 0 <= padding < 1:
            raise ValueError(f"levels must be >= 0 and padding in [0, 1), got {levels}, {padding}")
        self.model = model
        self.levels = int(levels)
        self.padding = float(padding)

    def batched(self, x: Float[Array, " b c h w"]) -> Float[Array, " b d h w"]:
        patches = make_patches(x, self.levels, self.padding)
        return stitch_patches(self.model.batched(patches), self.levels, x.shape[-1], self.padding)


def mg_tfno(
    in_channels: int,
    out_channels: int,
    modes: Sequence[int],
    width: int = 32,
    depth: int = 4,
    projection_channels: int = 128,
    *,
    levels: int = 1,
    padding: float = 0.0625,
    factorization: str = "tucker",
    rank: float = 0.1,
    key: PRNGKeyArray,
    dtype=None,
) -> MultigridPatching:
    """MG-TFNO (Kossaifi et al., TMLR 2024): an FNO whose Fourier weights are one joint
    factorized tensor (`rank`: the fraction of the dense stack kept), applied to multigrid
    patches (`levels`, `padding`; see `MultigridPatching`). The FNO sees each patch's own
    channels and `levels` coarser views of them: `in_channels · (1 + levels)` channels."""
    fno = FNO(
        in_channels * (1 + levels), out_channels, modes, width, depth, projection_channels,
        factorization=factorization, rank=rank, joint_factorization=True, key=key, dtype=dtype,
    )  # fmt: skip
    return MultigridPatching(fno, levels, padding)
