"""MgNO against its official code (xlliu2017/MgNO, `darcy.py`, the smooth-Darcy command of its
README), on Darcy data that `datagen` makes, exported as the `.mat` files the code reads.

The recipe is the README's smooth-Darcy command at a smaller size: `MgNO_DC_smooth`, width 24,
5 layers, smoothing iterations 1, 1, 1, 1, 1, 2 on 6 levels, pointwise Gaussian normalizers on
input and output, the truncated H1 loss summed over the batch, Adam (coupled weight decay 1e-4)
under a one-cycle schedule stepped per epoch, batch 8. The fields are stored at 101x101 and both
sides read every second point (`--sample_x`): 51x51, the smallest grid whose levels
(51, 26, 13, 7, 4, 2) match the transposed-convolution kernels the code fixes for 211x211.
"""

import logging
import os
import re
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
from parity_common import generated_darcy, put_weights, train_side_by_side

import jaxsciml as jsm
from jaxsciml import parallel
from jaxsciml.data import from_arrays
from jaxsciml.losses import SobolevLoss, relative_l2
from jaxsciml.operators.normalized import with_normalizers
from jaxsciml.train import Evaluation, mgno_adam


STORED, STRIDE = 101, 2
WIDTH, DEPTH, ITERATIONS = 24, 5, (1, 1, 1, 1, 1, 2)
BATCH = 8


def add_arguments(parser) -> None:
    parser.add_argument("--data", default="data/darcy101_parity", help="datagen Darcy shards")
    parser.add_argument("--train", type=int, default=400, help="training samples (batch 8)")
    parser.add_argument("--test", type=int, default=100, help="test samples")
    parser.add_argument("--val", type=int, default=100, help="validation samples (reference)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs on each side")
    parser.add_argument("--learning-rate", type=float, default=5e-4, help="peak learning rate")


def export_mat(folder: str, coefficients, solutions, n_train: int) -> dict[str, str]:
    """The reference's two files: training samples in one, test then validation in the other,
    under the keys `coeff` and `sol` its `MatReader` reads."""
    import scipy.io

    paths = {"train": os.path.join(folder, "train.mat"), "test": os.path.join(folder, "test.mat")}
    scipy.io.savemat(paths["train"], {"coeff": coefficients[:n_train], "sol": solutions[:n_train]})
    scipy.io.savemat(paths["test"], {"coeff": coefficients[n_train:], "sol": solutions[n_train:]})
    return {"train": paths["train"], "test": paths["test"], "val": paths["test"]}


def copy_weights(reference, model):
    """Our `MgNO` holding the weights of the reference's `MgNO_DC_smooth`."""

    array = lambda t: jnp.asarray(t.detach().cpu().numpy())  # noqa: E731
    leaves, values = [], []

    def put(where, tensor):
        leaves.append(where)
        values.append(array(tensor))

    for index, (cycle, local) in enumerate(zip(reference.conv_list, reference.linear_list)):
        layer = lambda m, index=index: m.layers[index]  # noqa: E731
        put(lambda m, layer=layer: layer(m).local.weight, local.weight[:, :, 0, 0])
        put(lambda m, layer=layer: layer(m).local.bias, local.bias)
        for level, count in enumerate(ITERATIONS):
            stage = getattr(cycle, f"layer{level}")
            if level == 0:
                put(lambda m, layer=layer: layer(m).cycle.first.weight, stage[0].S.weight)
            else:
                restrict = stage[0]
                put(
                    lambda m, layer=layer, level=level: (
                        layer(m).cycle.restrict_data[level - 1].weight
                    ),
                    restrict.R.weight,
                )
                put(
                    lambda m, layer=layer, level=level: (
                        layer(m).cycle.restrict_solution[level - 1].weight
                    ),
                    restrict.Pi.weight,
                )
            for i, iteration in enumerate(stage[1:]):
                smoother = lambda m, layer=layer, level=level, i=i: (  # noqa: E731
                    layer(m).cycle.smoothing[level][i]
                )
                put(lambda m, smoother=smoother: smoother(m).operator.weight, iteration.A.weight)
                put(lambda m, smoother=smoother: smoother(m).smoother.weight, iteration.S.weight)
            if level < len(ITERATIONS) - 1:  # ConvTranspose2d's (in, out, k, k); ours correlates
                put(
                    lambda m, layer=layer, level=level: layer(m).cycle.prolong[level].weight,
                    cycle.RTlayers[level].weight.transpose(0, 1).flip(2, 3),
                )
    put(lambda m: m.projection, reference.linear.weight[:, :, 0, 0])
    return put_weights(model, zip(leaves, values))


def our_model(resolution, seed):
    return jsm.MgNO(
        1,
        1,
        resolution,
        width=WIDTH,
        depth=DEPTH,
        levels=len(ITERATIONS),
        iterations=ITERATIONS,
        key=jax.random.key(seed),
    )


def forward_check(reference_dir: str, x: np.ndarray) -> None:
    """One forward pass of both models on identical weights (no normalizers)."""
    import torch

    sys.path.insert(0, reference_dir)
    from models import MgNO_DC_smooth

    torch.manual_seed(0)
    reference = MgNO_DC_smooth(
        num_layer=DEPTH,
        num_channel_u=WIDTH,
        num_channel_f=1,
        num_classes=1,
        num_iteration=[[i, 0] for i in ITERATIONS],
    )
    ours = copy_weights(reference, our_model(x.shape[-2:], 0))
    with torch.no_grad():
        expected = reference(torch.tensor(x[:, None])).numpy()
    got = np.asarray(ours.batched(jnp.asarray(x[:, None])))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    print(f"parameters: ours {jsm.count_parameters(ours):,}, reference {count(reference):,}")
    print(
        f"forward on identical weights at {x.shape[-1]}x{x.shape[-1]}: max |ours - reference| "
        f"= {np.abs(got - expected).max():.2e} (outputs up to {np.abs(expected).max():.2e})"
    )


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def train_reference(reference_dir: str, paths: dict, args, seed: int) -> list[float]:
    """The reference's own `objective` (its data reading, normalizers, model, loss, optimizer,
    schedule and loop), with the file paths pointed at our export; returns its per-epoch test
    relative L2, read from its log."""
    import torch

    sys.path.insert(0, reference_dir)
    import darcy
    import utilities3

    utilities3.getPath = lambda data, flag: paths[flag]
    n_test, n_val = args.test, args.val
    data_options = {
        "data": "darcy",
        "sampling_rate": STRIDE,
        "sample_x": True,
        "batch_size": BATCH,
        "loss_type": "h1",
        "loss_weight": [2],
        "normalizer_type": "PGN",
        "GN": True,
        "dataSize": {
            "train": range(args.train),
            "test": range(n_test),
            "val": range(n_test, n_test + n_val),
        },
    }
    model_options = {
        "num_layer": DEPTH,
        "num_channel_u": WIDTH,
        "num_channel_f": 1,
        "num_classes": 1,
        "num_iteration": [[i, 0] for i in ITERATIONS],
        "in_chans": 1,
        "normalizer": True,
        "output_dim": 1,
        "activation": "gelu",
    }
    optimizer_options = {
        "optimizer_type": "adam",
        "lr": args.learning_rate,
        "weight_decay": 1e-4,
        "epochs": args.epochs,
        "final_div_factor": 100,
        "div_factor": 2,
    }
    collect = _Collect()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    root.addHandler(collect)  # its `basicConfig` then does nothing: set the level it would
    root.setLevel(logging.INFO)
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.makedirs(os.path.join(folder, "model"))
        os.chdir(folder)
        try:
            torch.manual_seed(seed)
            darcy.objective(
                data_options,
                model_options,
                optimizer_options,
                log_if=True,
                model_type="MgNO_DC_smooth",
                validate=True,
            )
        finally:
            os.chdir(here)
            root.setLevel(level)
            for handler in root.handlers[:]:
                if handler not in handlers:
                    root.removeHandler(handler)
    pattern = re.compile(r"\| test l2 loss: ([0-9.e+-]+)")
    curve = [float(m.group(1)) for m in map(pattern.search, collect.messages) if m]
    if len(curve) != args.epochs:
        raise RuntimeError(f"read {len(curve)} epochs from the reference's log, not {args.epochs}")
    return curve


def train_ours(train: tuple, test: tuple, args, seed: int) -> list[float]:
    """Our MgNO with the same recipe through `jsm.fit`; the per-epoch test relative L2."""
    train_set, test_set = from_arrays(*train), from_arrays(*test)
    model = with_normalizers(our_model(train[0].shape[-2:], seed), train_set)
    h1 = SobolevLoss(s=1.0, lengths=2 * np.pi, cutoff=20)

    def summed_h1(model, batch, key):  # the reference sums its loss over the batch
        return h1(model, batch, key) * batch.target.shape[0]

    _, history = jsm.fit(
        model,
        train_set,
        epochs=args.epochs,
        batch_size=BATCH,
        loss=summed_h1,
        optimizer=mgno_adam(args.train // BATCH, args.epochs, args.learning_rate),
        evaluation=Evaluation(test_set, metrics={"relative_l2": relative_l2}, batch_size=BATCH),
        seed=seed,
        progress=False,
        mesh=parallel.data_mesh(jax.devices()[:1]),
    )
    return [record["eval.relative_l2"] for record in history]


def run(args) -> dict:
    """Both sides over `args.seeds`: per-epoch test curves and seconds."""
    samples = args.train + args.test + args.val
    coefficients, solutions = (
        field[:, 0] for field in generated_darcy(args.data, samples, resolution=STORED)
    )
    sub = (slice(None), slice(None, None, STRIDE), slice(None, None, STRIDE))
    n = args.train
    pair = lambda rows: (coefficients[rows][sub][:, None], solutions[rows][sub][:, None])  # noqa: E731
    train, test = pair(slice(0, n)), pair(slice(n, n + args.test))
    forward_check(args.reference_dir, train[0][:4, 0])
    with tempfile.TemporaryDirectory() as folder:
        paths = export_mat(folder, coefficients, solutions, n)
        return train_side_by_side(
            args.seeds,
            lambda seed: train_reference(args.reference_dir, paths, args, seed),
            lambda seed: train_ours(train, test, args, seed),
        )
