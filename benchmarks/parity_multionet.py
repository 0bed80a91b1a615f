"""MultiONet against its official code (yaohua32/DGenNO: `Solvers/MultiONet`, `Networks`), with
the recipe of its piecewise-Darcy notebook (`MultiONetBatch_DarcyFlow_piecewise`), on
piecewise-constant Darcy data that `datagen` makes (a ∈ {5, 10}, f = 10, 29x29), exported as
the HDF5 files the notebook reads.

The recipe: a convolutional encoder of the 841 coefficient values (5x5 convolutions of stride 2
to 128 and 256 channels, then one linear layer to 256; SiLU), a MultiONet of five layers of 100
(branch SiLU_Id, trunk Tanh_Sin, the last four layers combined), outputs at all 841 grid
points; the loss is the batch mean of the L2 norm of the error (its `mse_org`); Adam 1e-3 with
coupled weight decay 1e-4, halved every fifth of the epochs (the notebook: every 400 of 2000),
batch 50. The notebook's encoder class and loss class are rebuilt by the harness around the
reference's `CNNet2d`; its solver (`MultiONet.Solver`: optimizer, scheduler, loop) runs as is.
"""

import os
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
from parity_common import generated_darcy, put_weights, train_side_by_side

import jaxsciml as jsm
from jaxsciml import parallel
from jaxsciml.data import from_arrays
from jaxsciml.data.points import PointDataset, grid_points
from jaxsciml.losses import relative_l2
from jaxsciml.nn import silu_id, tanh_sin
from jaxsciml.train import Evaluation, fno_adam


N = 29
CONV, ENCODED = (128, 256), 256
WIDTHS, SUMMED = (100,) * 5, 4
BATCH = 50


def add_arguments(parser) -> None:
    parser.add_argument("--data", default="data/darcy29_parity", help="datagen Darcy shards")
    parser.add_argument("--train", type=int, default=1000, help="training functions (batch 50)")
    parser.add_argument("--test", type=int, default=200, help="test functions")
    parser.add_argument("--epochs", type=int, default=100, help="epochs on each side")
    parser.add_argument(
        "--init",
        default="uniform",
        choices=("uniform", "glorot_normal"),
        help="our MultiONet's linear initialization (the reference: uniform)",
    )


def darcy(path: str, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-constant coefficients (5, 10; f = 10) and solutions `(samples, 29, 29)`."""
    a, u = generated_darcy(path, samples, resolution=N, values=[10.0, 5.0], forcing=10.0)
    return a[:, 0], u[:, 0]


def export_h5(path: str, a: np.ndarray, u: np.ndarray) -> None:
    """The notebook's file: `coe`, `u` `(n, 29, 29)` and the mesh `X`, `Y` whose flattening
    orders the points as the fields' (the first axis is x, as in our `grid_points`)."""
    import h5py

    x = np.linspace(0, 1, N)
    X, Y = np.meshgrid(x, x, indexing="ij")
    with h5py.File(path, "w") as f:
        for name, value in {"coe": a, "u": u, "X": X, "Y": Y}.items():
            f[name] = value


def our_model(init: str, seed: int) -> jsm.MultiONet:
    return jsm.MultiONet(
        N * N,
        2,
        WIDTHS,
        WIDTHS,
        num_outputs=SUMMED,
        activation=silu_id,
        trunk_activation=tanh_sin,
        init=init,
        sensor_grid=(N, N),
        conv_channels=CONV,
        encoder_widths=(ENCODED,),
        conv_kernel=5,
        conv_stride=2,
        key=jax.random.key(seed),
    )


def reference_modules(reference_dir: str):
    """The notebook's encoder and loss classes around the reference's own networks."""
    import torch

    sys.path.insert(0, reference_dir)
    from Networks.CNNet import CNNet2d

    class Encoder(torch.nn.Module):  # the notebook's: the flat field as a 1-channel image
        def __init__(self):
            super().__init__()
            self.conv = CNNet2d(
                [1, *CONV],
                [CONV[-1] * 5 * 5, ENCODED],
                activation_conv="SiLU",
                activation_fc="SiLU",
                kernel_size=(5, 5),
                stride=2,
            )

        def forward(self, a):
            return self.conv(a.reshape(-1, N, N).unsqueeze(1))

    class LossClass:  # the notebook's: the solver's loss and error of u(x, encoder(a))
        def __init__(self, solver):
            self.solver = solver
            self.encoder, self.u = solver.model_dict["enc"], solver.model_dict["u"]

        def Loss_data(self, a, u, x):  # noqa: N802 (the reference's name)
            return self.solver.getLoss(self.u(x, self.encoder(a)), u)

        def Error(self, a, u, x):  # noqa: N802
            return self.solver.getError(self.u(x, self.encoder(a)), u)

    # the solver pickles its networks: make the class findable under this module
    Encoder.__qualname__ = Encoder.__name__ = "ReferenceEncoder"
    globals()["ReferenceEncoder"] = Encoder
    return Encoder, LossClass


def new_reference(reference_dir: str):
    """A fresh reference solver and its two networks, as the notebook makes them."""
    Encoder, _ = reference_modules(reference_dir)
    from Solvers.MultiONet import MultiONet

    solver = MultiONet.Solver("cpu", None)
    u = solver.getModel(
        x_in_size=2,
        a_in_size=ENCODED,
        trunk_layers=list(WIDTHS),
        branch_layers=list(WIDTHS),
        activation_trunk="Tanh_Sin",
        activation_branch="SiLU_Id",
        netType="Batch",
    )
    return solver, Encoder(), u


def copy_weights(encoder, u, model):
    """Our MultiONet holding the reference's encoder and network weights."""
    array = lambda t: jnp.asarray(t.detach().cpu().numpy())  # noqa: E731
    pairs = []
    for i, conv in enumerate(encoder.conv.conv_net):
        pairs.append((lambda m, i=i: m.encoder.convs[i].weight, array(conv.weight)))
        pairs.append((lambda m, i=i: m.encoder.convs[i].bias, array(conv.bias)[:, None, None]))
    for i, fc in enumerate(encoder.conv.fc_net):
        pairs.append((lambda m, i=i: m.encoder.linears[i].weight, array(fc.weight)))
        pairs.append((lambda m, i=i: m.encoder.linears[i].bias, array(fc.bias)))
    for ours, first, rest in (
        ("trunk", u.fc_trunk_in, u.trunk_net),
        ("branch", u.fc_branch_in, u.branch_net),
    ):
        for i, layer in enumerate([first, *rest]):
            pairs.append((lambda m, o=ours, i=i: getattr(m, o)[i].weight, array(layer.weight)))
            pairs.append((lambda m, o=ours, i=i: getattr(m, o)[i].bias, array(layer.bias)))
    pairs.append((lambda m: m.weights, jnp.stack([array(w) for w in u.w])))
    pairs.append((lambda m: m.bias, array(u.b).reshape(1)))
    return put_weights(model, pairs)


def forward_check(reference_dir: str, a: np.ndarray) -> None:
    import torch

    torch.manual_seed(0)
    _, encoder, u = new_reference(reference_dir)
    with torch.no_grad():
        for w in u.w:  # the trained state: the reference initializes w to 0 (output = b)
            w.uniform_(-1, 1)
    model = copy_weights(encoder, u, our_model("uniform", 0))
    points = grid_points((np.linspace(0, 1, N),) * 2)
    flat = a.reshape(len(a), -1)
    with torch.no_grad():
        x = torch.tensor(points).repeat(len(a), 1, 1)
        expected = u(x, encoder(torch.tensor(flat))).numpy()
    got = np.asarray(model.batched(jnp.asarray(flat), jnp.asarray(points)))[..., 0]
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    print(
        f"parameters: ours {jsm.count_parameters(model):,}, reference {count(encoder) + count(u):,}"
    )
    print(
        f"forward on identical weights: max |ours - reference| = "
        f"{np.abs(got - expected).max():.2e} (outputs up to {np.abs(expected).max():.2e})"
    )


def train_reference(reference_dir: str, files: dict, args, seed: int) -> list[float]:
    """The notebook's training cell with the reference's solver; per-epoch test relative L2."""
    import h5py
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)
    _, LossClass = reference_modules(reference_dir)
    solver, encoder, u = new_reference(reference_dir)

    def read(path):  # the notebook's get_data, for our files
        with h5py.File(path, "r") as f:
            a, target = np.array(f["coe"]), np.array(f["u"])
            mesh = np.vstack([np.array(f["X"]).ravel(), np.array(f["Y"]).ravel()]).T
        a = torch.tensor(a.reshape(len(a), -1), dtype=torch.float32)
        target = torch.tensor(target.reshape(len(target), -1), dtype=torch.float32)
        x = torch.tensor(mesh, dtype=torch.float32).repeat(len(a), 1, 1)
        return a, target, x

    solver.train_setup(
        {"u": u, "enc": encoder},
        lr=1e-3,
        optimizer="Adam",
        scheduler_type="StepLR",
        gamma=1 / 2,
        step_size=max(1, args.epochs // 5),
    )
    with tempfile.TemporaryDirectory() as folder:
        solver.train_batch(
            LossClass,
            *read(files["train"]),
            *read(files["test"]),
            batch_size=BATCH,
            epochs=args.epochs,
            epoch_show=args.epochs,
            save_path=folder + "/",
        )
    return [float(e) for e in solver.l2_test_list]


def train_ours(train, test, args, seed: int) -> list[float]:
    """Our MultiONet with the same recipe through `jsm.fit`; per-epoch test relative L2."""
    train_set, test_set = PointDataset(from_arrays(*train)), PointDataset(from_arrays(*test))

    def error_norm(model, batch, key):  # the reference's `mse_org`: the mean of ‖u − û‖₂
        difference = (batch.predict(model) - batch.target).reshape(batch.target.shape[0], -1)
        return jnp.mean(jnp.linalg.norm(difference, axis=1))

    _, history = jsm.fit(
        our_model(args.init, seed),
        train_set,
        epochs=args.epochs,
        batch_size=BATCH,
        loss=error_norm,
        optimizer=fno_adam(args.train // BATCH, 1e-3, decay_every_epochs=max(1, args.epochs // 5)),
        evaluation=Evaluation(test_set, metrics={"relative_l2": relative_l2}),
        seed=seed,
        progress=False,
        mesh=parallel.data_mesh(jax.devices()[:1]),
    )
    return [record["eval.relative_l2"] for record in history]


def run(args) -> dict:
    a, u = darcy(args.data, args.train + args.test)
    n = args.train
    forward_check(args.reference_dir, a[:4])
    train, test = (a[:n, None], u[:n, None]), (a[n:, None], u[n:, None])
    with tempfile.TemporaryDirectory() as folder:
        files = {
            "train": os.path.join(folder, "train.mat"),
            "test": os.path.join(folder, "test.mat"),
        }
        export_h5(files["train"], a[:n], u[:n])
        export_h5(files["test"], a[n:], u[n:])
        return train_side_by_side(
            args.seeds,
            lambda seed: train_reference(args.reference_dir, files, args, seed),
            lambda seed: train_ours(train, test, args, seed),
        )
