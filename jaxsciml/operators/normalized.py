"""A grid operator on physical fields: Gaussian normalizers around a model (the FNO recipe).

The network trains on standardized fields, the loss sees the decoded (physical) prediction: a
loss, an evaluation or a user never see normalized values.
"""

import equinox as eqx
from jaxtyping import Array, Float

from jaxsciml.data.dataset import Dataset
from jaxsciml.data.normalize import GaussianNormalizer
from jaxsciml.nn.base import AbstractGridOperator, apply_batch
from jaxsciml.operators.files import recorded


@recorded
class Normalized(AbstractGridOperator):
    """`output_normalizer.decode(model(input_normalizer.encode(a)))`: a model on physical fields.

    Either normalizer may be `None` (identity). The statistics are constants: training updates
    only the wrapped model.
    """

    arguments: str = eqx.field(static=True, repr=False)  # see `recorded`

    model: eqx.Module
    input_normalizer: GaussianNormalizer | None
    output_normalizer: GaussianNormalizer | None

    def __init__(
        self,
        model: eqx.Module,
        input_normalizer: GaussianNormalizer | None,
        output_normalizer: GaussianNormalizer | None,
    ):
        self.model = model
        self.input_normalizer = input_normalizer
        self.output_normalizer = output_normalizer

    def batched(
        self, a: Float[Array, " batch c_in *spatial"]
    ) -> Float[Array, " batch c_out *spatial"]:
        if self.input_normalizer is not None:
            a = self.input_normalizer.encode(a)
        u = apply_batch(self.model, a)
        if self.output_normalizer is not None:
            u = self.output_normalizer.decode(u)
        return u


def with_normalizers(
    model: eqx.Module, train_data: Dataset, *, pointwise: bool = True, inputs=True, outputs=True
) -> Normalized:
    """Wrap `model` with Gaussian normalizers fitted on `train_data` (the FNO recipe)."""
    fit = lambda field: GaussianNormalizer.fit(train_data, field, pointwise=pointwise)
    return Normalized(model, fit("inputs") if inputs else None, fit("outputs") if outputs else None)
