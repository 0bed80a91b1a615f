"""Neural operators, one module per family."""

from jaxsciml.operators.base import (
    AbstractBranchTrunkOperator as AbstractBranchTrunkOperator,
    AbstractGridOperator as AbstractGridOperator,
    AbstractPointOperator as AbstractPointOperator,
)
from jaxsciml.operators.deeponet import DeepONet as DeepONet, MultiONet as MultiONet
from jaxsciml.operators.dgno import DGNO as DGNO, DGNOLoss as DGNOLoss
from jaxsciml.operators.fno import FNO as FNO, FourierLayer as FourierLayer
from jaxsciml.operators.mgno import MgNO as MgNO
from jaxsciml.operators.normalized import (
    Normalized as Normalized,
    with_normalizers as with_normalizers,
)
from jaxsciml.operators.operator_ode import (
    OperatorODE as OperatorODE,
    loss_at_times as loss_at_times,
)
from jaxsciml.operators.patching import (
    MultigridPatching as MultigridPatching,
    mg_tfno as mg_tfno,
)
from jaxsciml.operators.pig import PIG as PIG, PINN as PINN, GaussianFeatures as GaussianFeatures
from jaxsciml.operators.sfno import (
    SFNO as SFNO,
    SpaceTimeSpectralConv as SpaceTimeSpectralConv,
    output_layer_filter as output_layer_filter,
)
from jaxsciml.operators.t1 import T1 as T1, frequency_relative_l2 as frequency_relative_l2
