"""DGNO against its official code (yaohua32/DGenNO: `Solvers/DGNO`, `Networks`, `Utils`, and the
classes of `Example_DarcyFlow_piecewise/DGenNO_DarcyFlow_piecewise.py`), on piecewise-constant
Darcy data that `datagen` makes (a ∈ {5, 10}, f = 10, 29x29), in the arrays that script reads.

The script's own classes (its loss, encoder, mollifier, coefficient lookup and normalizer) are
read from the checkout and executed as they are written; its solver (`DGNO.Solver`) trains.
The recipe is the script's: an MLP encoder `[841, 512, 256, 128]` (SiLU, tanh), MultiONet
decoders of 5 layers (256 for a, 100 for u and the two fluxes), the mixed weak form with 100
Wendland test functions of radius 1e-4 per step averaged over the 7x7 grid rule, the Bernoulli
reconstruction of a, Adam 5e-4 with coupled weight decay 1e-4 halved every fifth of the epochs,
batch 25. Ours is `DGNO(coefficient="binary")` with `DGNOLoss` on `WeakForm(quadrature="grid")`.

Before training it compares, on identical weights and test-function centres: the latent code,
the decoded u, the two loss terms and the gradient.
"""

import ast
import os
import sys
import tempfile

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from parity_common import put_weights, train_side_by_side
from parity_multionet import darcy

import jaxsciml as jsm
from jaxsciml import parallel, physics as ph
from jaxsciml.data import from_arrays
from jaxsciml.data.normalize import GaussianNormalizer
from jaxsciml.operators.dgno import DGNO, DGNOLoss, unlabelled
from jaxsciml.train import Evaluation, fno_adam


N, LATENT, BATCH, CENTRES, RADIUS = 29, 128, 25, 100, 1e-4
SCRIPT = "Example_DarcyFlow_piecewise/DGenNO_DarcyFlow_piecewise.py"
SCRIPT_CLASSES = (
    "Get_High_Resolution_a",
    "UnitGaussianNormalizer",
    "mollifier",
    "LossClass",
    "Encoder",
)


def add_arguments(parser) -> None:
    parser.add_argument("--data", default="data/darcy29_parity", help="datagen Darcy shards")
    parser.add_argument("--train", type=int, default=1000, help="unlabelled training fields")
    parser.add_argument("--test", type=int, default=200, help="solved test fields")
    parser.add_argument("--epochs", type=int, default=10, help="epochs on each side")


def as_reference(fields: np.ndarray):
    """Our `(n, x, y)` fields flattened as the script's: index `y · 29 + x` (its lookup)."""
    import torch

    return torch.tensor(np.ascontiguousarray(fields.transpose(0, 2, 1)).reshape(len(fields), -1))


def reference_points():
    """The script's `gridx`: the mesh flattened with x fastest."""
    import torch

    x, y = np.meshgrid(np.linspace(0, 1, N), np.linspace(0, 1, N))
    return torch.tensor(np.stack([x.ravel(), y.ravel()], axis=-1), dtype=torch.float32)


def reference_namespace(reference_dir: str, a_train, seed: int) -> dict:
    """The script's classes, executed from the checkout with the globals they read."""
    import torch
    from torch import nn
    from torch.autograd import Variable, grad

    sys.path.insert(0, reference_dir)
    from Networks.EncoderNet import EncoderFCNet
    from Utils.GenPoints import Point2D
    from Utils.TestFun_ParticleWNN import TestFun_ParticleWNN

    path = os.path.join(reference_dir, SCRIPT)
    with open(path) as f:
        tree = ast.parse(f.read())
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in SCRIPT_CLASSES]
    if len(classes) != len(SCRIPT_CLASSES):
        raise RuntimeError(f"{path} no longer defines {', '.join(SCRIPT_CLASSES)}")
    namespace = {
        "__name__": __name__,
        "np": np,
        "torch": torch,
        "nn": nn,
        "grad": grad,
        "Variable": Variable,
        "EncoderFCNet": EncoderFCNet,
        "res_coe": N,
    }
    exec(compile(ast.Module(classes, []), path, "exec"), namespace)
    for name in SCRIPT_CLASSES:  # the solver pickles its networks: findable in this module
        namespace[name].__qualname__ = name
        globals()[name] = namespace[name]
    int_grid, v, dv_dr = TestFun_ParticleWNN(
        fun_type="Wendland", dim=2, n_mesh_or_grid=7, dataType=torch.float32
    ).get_testFun()
    namespace.update(
        int_grid=int_grid,
        v=v,
        dv_dr=dv_dr,
        pointGen=Point2D(
            x_lb=[0.0, 0.0], x_ub=[1.0, 1.0], dataType=torch.float32, random_seed=seed
        ),
        normalizer_a=namespace["UnitGaussianNormalizer"](a_train),
    )
    return namespace


def reference_solver(namespace: dict):
    """The script's solver with its five networks (its order of construction)."""
    import torch
    from Solvers.DGNO import DGNO as ReferenceDGNO

    solver = ReferenceDGNO.Solver(device="cpu", dtype=torch.float32)
    encoder = namespace["Encoder"]([N * N, 512, 256, LATENT], "SiLU", torch.float32)

    def decoder(width, trunk, branch):
        return solver.getModel(
            x_in_size=2,
            beta_in_size=LATENT,
            trunk_layers=[width] * 5,
            branch_layers=[width] * 5,
            activation_trunk=trunk,
            activation_branch=branch,
            netType="MultiONetBatch",
            sum_layers=4,
        )

    a = decoder(256, "SiLU_Sin", "SiLU_Id")
    u, s1, s2 = (decoder(100, "Tanh_Sin", "Tanh_Sin") for _ in range(3))
    solver.model_dict = {"u": u, "s1": s1, "s2": s2, "a": a, "enc": encoder}
    return solver


def copy_weights(solver, model: DGNO) -> DGNO:
    """Our DGNO holding the reference's five networks."""
    array = lambda t: jnp.asarray(t.detach().cpu().numpy())  # noqa: E731
    networks = solver.model_dict
    pairs = []
    for i, layer in enumerate(networks["enc"].encoder.net.net):
        weight = array(layer.weight)
        if i == 0:  # its inputs are flattened y-major, ours x-major
            weight = weight.reshape(-1, N, N).transpose(0, 2, 1).reshape(-1, N * N)
        pairs.append((lambda m, i=i: m.encoder.network.linears[i].weight, weight))
        pairs.append((lambda m, i=i: m.encoder.network.linears[i].bias, array(layer.bias)))
    ours = {
        "a": lambda m: m.a_decoder,
        "u": lambda m: m.u_decoder,
        "s1": lambda m: m.flux_decoders[0],
        "s2": lambda m: m.flux_decoders[1],
    }
    for name, where in ours.items():
        net = networks[name]
        for side, first, rest in (
            ("trunk", net.fc_trunk_in, net.trunk_net),
            ("branch", net.fc_branch_in, net.branch_net),
        ):
            for i, layer in enumerate([first, *rest]):
                pick = lambda m, w=where, s=side, i=i: getattr(w(m), s)[i]  # noqa: E731
                pairs.append((lambda m, p=pick: p(m).weight, array(layer.weight)))
                pairs.append((lambda m, p=pick: p(m).bias, array(layer.bias)))
        pairs.append((lambda m, w=where: w(m).weights, jnp.stack([array(w) for w in net.w])))
        pairs.append((lambda m, w=where: w(m).bias, array(net.b).reshape(1)))
    return put_weights(model, pairs)


def our_loss() -> DGNOLoss:
    form = ph.WeakForm(ph.Box([0.0, 0.0], [1.0, 1.0]), RADIUS, quadrature="grid", grid_points=7)
    return DGNOLoss(form, source=10.0, centres=CENTRES)


def compare_on_identical_weights(reference_dir: str, a: np.ndarray, u: np.ndarray) -> None:
    """Latent code, u, the two loss terms and their gradients, both sides, same weights and
    centres (the reference's centre draw is replaced by ours)."""
    import torch

    torch.manual_seed(0)
    a_ref = as_reference(a)
    namespace = reference_namespace(reference_dir, a_ref, seed=0)
    solver = reference_solver(namespace)
    with torch.no_grad():  # the trained state: the reference starts every w_k at 0
        for name in ("a", "u", "s1", "s2"):
            for w in solver.model_dict[name].w:
                w.uniform_(-1, 1)
    model = DGNO(a[:, None], coefficient="binary", key=jax.random.key(0))
    normalizer = GaussianNormalizer(model.normalizer.mean, model.normalizer.std, eps=1e-8)
    model = copy_weights(solver, eqx.tree_at(lambda m: m.normalizer, model, normalizer))
    batch = slice(0, 4)
    centres = np.random.default_rng(0).uniform(RADIUS, 1 - RADIUS, (CENTRES, 2)).astype(np.float32)
    namespace["pointGen"].weight_centers = lambda n_center, R_max, R_min: (
        torch.tensor(centres).view(-1, 1, 2),
        torch.full((n_center, 1, 1), RADIUS),
    )
    loss_class = namespace["LossClass"](solver)
    points = reference_points()
    x = points.repeat(4, 1, 1)
    pde_ref = loss_class.Loss_pde(a_ref[batch])
    data_ref = loss_class.Loss_data(x, a_ref[batch], None)
    beta_ref = solver.model_dict["enc"](namespace["normalizer_a"].encode(a_ref[batch]))
    u_ref = namespace["mollifier"]()(solver.model_dict["u"](x, beta_ref), x)[..., 0]
    (pde_ref + data_ref).backward()
    grad_ref = solver.model_dict["u"].fc_trunk_in.weight.grad.numpy()

    loss, fields = our_loss(), jnp.asarray(a[batch, None])
    beta = model.encode(fields)[0]
    u_ours = model.solution(beta, jnp.asarray(points.numpy()))

    def terms(model):
        beta = model.encode(fields)[0]
        return loss.pde(model, beta, fields, jnp.asarray(centres)), loss.reconstruction(
            model, beta, fields
        )

    pde, data = terms(model)
    grads = eqx.filter_grad(lambda m: sum(terms(m)))(model)
    grad_ours = np.asarray(grads.u_decoder.trunk[0].weight)
    relative = lambda x, y: float(np.abs(np.asarray(x) - np.asarray(y)).max() / np.abs(y).max())  # noqa: E731
    beta_diff = relative(beta, beta_ref.detach().numpy())
    u_diff = relative(u_ours, u_ref.detach().numpy())
    print(f"identical weights: latent code max rel. diff {beta_diff:.1e}, u {u_diff:.1e}")
    print(
        f"  weak-form term: ours {float(pde):.6e}, reference {pde_ref.item():.6e}; "
        f"reconstruction: ours {float(data):.6e}, reference {data_ref.item():.6e}"
    )
    print(
        f"  gradient w.r.t. the u decoder's first trunk layer: max rel. diff "
        f"{relative(grad_ours, grad_ref):.1e}"
    )


def train_reference(reference_dir: str, a, u, test, args, seed: int) -> list[float]:
    """The script's training cell with its solver and classes; per-epoch test relative L2."""
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)
    a_ref = as_reference(a)
    namespace = reference_namespace(reference_dir, a_ref, seed)
    solver = reference_solver(namespace)
    points = reference_points()
    train_x, test_x = points.repeat(len(a), 1, 1), points.repeat(len(test[0]), 1, 1)
    u_ref = as_reference(u).reshape(len(u), -1, 1)
    test_a, test_u = as_reference(test[0]), as_reference(test[1]).reshape(len(test[1]), -1, 1)
    solver.train_setup(
        solver.model_dict,
        lr=5e-4,
        optimizer="Adam",
        scheduler_type="StepLR",
        gamma=0.5,
        step_size=max(1, args.epochs // 5),
    )
    with tempfile.TemporaryDirectory() as folder:
        solver.train(
            namespace["LossClass"],
            a_ref,
            u_ref,
            train_x,
            test_a,
            test_u,
            test_x,
            w_data=1.0,
            w_pde=1.0,
            batch_size=BATCH,
            epochs=args.epochs,
            epoch_show=args.epochs,
            save_path=folder + "/",
        )
    return [float(np.mean(e)) for e in solver.error_list]


def train_ours(a, test, args, seed: int) -> list[float]:
    """Our DGNO with the same recipe through `jsm.fit`; per-epoch test relative L2."""
    model = DGNO(a[:, None], coefficient="binary", key=jax.random.key(seed))
    _, history = jsm.fit(
        model,
        unlabelled(a[:, None]),
        epochs=args.epochs,
        batch_size=BATCH,
        loss=our_loss(),
        optimizer=fno_adam(len(a) // BATCH, 5e-4, decay_every_epochs=max(1, args.epochs // 5)),
        evaluation=Evaluation(from_arrays(test[0][:, None], test[1][:, None]), batch_size=BATCH),
        seed=seed,
        progress=False,
        mesh=parallel.data_mesh(jax.devices()[:1]),
    )
    return [record["eval.relative_l2"] for record in history]


def run(args) -> dict:
    a, u = darcy(args.data, args.train + args.test)
    n = args.train
    compare_on_identical_weights(args.reference_dir, a[:n], u[:n])
    test = (a[n:], u[n:])
    return train_side_by_side(
        args.seeds,
        lambda seed: train_reference(args.reference_dir, a[:n], u[:n], test, args, seed),
        lambda seed: train_ours(a[:n], test, args, seed),
    )
