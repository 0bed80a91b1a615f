"""Neural operators, one module per family."""

from jaxsciml.operators.fno import FNO as FNO, FourierLayer as FourierLayer
