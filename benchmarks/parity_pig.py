"""PIG against its official code (NamGyuKang/Physics-Informed-Gaussians, `Helmholtz2d`: its
`Base` network, its `PIG` trainer with the Adam branch, its residual, data and test), on the
2-D Helmholtz problem (a1 = 4, a2 = 1), at a size a CPU trains in minutes.

Both sides: `--gaussians` Gaussians in each of 4 feature channels (σ 0.1, weights N(0, 0.01²),
means uniform over the square), a 4 → 16 → 1 tanh MLP, `--interior` collocation points and
`--per-face` points on each face redrawn every iteration, the loss `mean (u − g)²` on the
boundary plus 1e-4 `mean (Δu + u − q)²`, Adam 1e-2 decayed by 0.9995 per iteration; the test
error is the relative L2 on a `--test-points`² grid every `--eval-every` iterations. The reference
runs its own `train` (its per-iteration test is called every `--eval-every` iterations only; its
plots are skipped). Ours: `jsm.PIG` with `ph.PhysicsLoss` through `jsm.fit`.
"""

import os
import sys
import tempfile

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from parity_common import put_weights, train_side_by_side

import jaxsciml as jsm
from jaxsciml import parallel, physics as ph
from jaxsciml.physics.collocation import CollocationBatch


A1, A2, RESIDUAL_WEIGHT = 4.0, 1.0, 1e-4


def add_arguments(parser) -> None:
    parser.add_argument("--gaussians", type=int, default=200, help="Gaussians per channel")
    parser.add_argument("--interior", type=int, default=2000, help="collocation points")
    parser.add_argument("--per-face", type=int, default=500, help="boundary points per face")
    parser.add_argument("--iterations", type=int, default=300, help="iterations on each side")
    parser.add_argument("--test-points", type=int, default=100, help="test grid per axis")
    parser.add_argument("--eval-every", type=int, default=25, help="iterations between tests")
    parser.add_argument(
        "--init",
        default="glorot_normal",
        choices=("glorot_normal", "uniform"),
        help="our MLP's initialization (the reference's: uniform)",
    )


def reference_arguments(reference_dir: str, args, seed: int):
    """The reference's own argument parser, given the settings of its Adam run."""
    sys.path.insert(0, os.path.join(reference_dir, "Helmholtz2d"))
    import main

    words = ["--network", "base", "--pde", "helmholtz_2d", "--a1", str(A1), "--a2", str(A2),
             "--in-dim", "2", "--out-dim", "1", "--mlp-dim", "4", "--num-train",
             str(args.interior), "--num-init", str(args.per_face), "--num-test",
             str(args.test_points), "--random-f", "--hidden-dim", "16", "--num-layers", "2",
             "--max-iter", str(args.iterations), "--f-scale", str(RESIDUAL_WEIGHT), "--seed",
             str(seed), "--num-gaussians", str(args.gaussians), "--sigma-init", "0.1",
             "--optim", "adam", "--lr", "0.01", "--tag", f"parity{seed}"]  # fmt: skip
    return main.parser.parse_args(words)


def new_reference(reference_dir: str, args, seed: int):
    import torch

    options = reference_arguments(reference_dir, args, seed)  # puts its folder on the path
    import network
    import pig
    import test_pde

    test_pde.Helmholtz_2d_plot = lambda *_, **__: None  # figures are not the comparison
    np.random.seed(seed)
    torch.manual_seed(seed)
    trainer = pig.PIG(network.Base(options), options, "2d_helmholtz")
    trainer.optimizer.param_groups[0]["capturable"] = False  # its CUDA-graph flag: not on a CPU
    return trainer


def our_model(args, seed: int) -> jsm.PIG:
    return jsm.PIG(ph.Helmholtz(A1, A2).domain, args.gaussians, scale=0.1, weight_std=0.01,
                   init=args.init, key=jax.random.key(seed))  # fmt: skip


def copy_weights(reference_net, model: jsm.PIG, of=lambda t: t, shift_means=True) -> jsm.PIG:
    """Ours holding the reference's Gaussians and MLP (or `of` each of its parameters, e.g. its
    gradient). Its first input (`t`) is our x0; its means live on [-1, 1], ours on the mapped
    [0, 2] (a shift, which a gradient does not take: `shift_means=False`)."""
    array = lambda t: jnp.asarray(of(t).detach().cpu().numpy())  # noqa: E731
    shift = 1.0 if shift_means else 0.0
    means = jnp.stack([array(reference_net.mu_t), array(reference_net.mu_x)], -1) + shift
    scales = jnp.stack([array(reference_net.sigma_t), array(reference_net.sigma_x)], -1)
    pairs = [(lambda m: m.features.means, means), (lambda m: m.features.scales, scales),
             (lambda m: m.features.weights, array(reference_net.weight))]  # fmt: skip
    for ours, theirs in ((0, 0), (1, 2)):
        layer = reference_net.net[theirs]
        pairs.append((lambda m, i=ours: m.mlp.layers[i].weight, array(layer.weight)))
        pairs.append((lambda m, i=ours: m.mlp.layers[i].bias, array(layer.bias)))
    return put_weights(model, pairs)


def compare_on_identical_weights(reference_dir: str, args) -> None:
    """u, the loss and its gradient in every parameter, of the reference's Adam branch at its
    own points, both sides."""
    import torch

    trainer = new_reference(reference_dir, args, seed=0)
    model = copy_weights(trainer.dnn, our_model(args, 0))
    y_f, x_f, q_f = trainer.t_train_f, trainer.x_train_f, trainer.u_train_f
    y_b, x_b, g_b = trainer.t_train, trainer.x_train, trainer.u_train
    trainer.optimizer.zero_grad()
    residual = trainer.net_f_2d(y_f, x_f, trainer.pde)
    loss_ref = torch.mean((g_b - trainer.net_u_2d(y_b, x_b, trainer.pde)) ** 2) + (
        RESIDUAL_WEIGHT * torch.mean((q_f - residual) ** 2)
    )
    loss_ref.backward()
    u_ref = trainer.net_u_2d(y_f, x_f, trainer.pde).detach().numpy()[:, 0]
    points = lambda a, b: jnp.asarray(torch.cat([a, b], 1).detach().numpy())  # noqa: E731
    interior, boundary = points(y_f, x_f), points(y_b, x_b)
    u_ours = np.asarray(jax.vmap(model)(interior))[:, 0]
    loss = ph.PhysicsLoss(ph.Helmholtz(A1, A2), residual_weight=RESIDUAL_WEIGHT)
    batch = CollocationBatch(interior, boundary, jnp.zeros((0, 2)))
    value, grads = eqx.filter_value_and_grad(lambda m: loss(m, batch))(model)
    print(f"identical weights: max |u ours - reference| = {np.abs(u_ours - u_ref).max():.2e} "
          f"(u up to {np.abs(u_ref).max():.2e}); loss ours {float(value):.6e}, "
          f"reference {loss_ref.item():.6e}")  # fmt: skip
    # the reference's gradients in our layout, through the same map as its weights
    theirs = copy_weights(trainer.dnn, model, lambda t: t.grad, shift_means=False)
    worst = max(
        float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))
        for a, b in zip(jax.tree.leaves(eqx.filter(grads, eqx.is_inexact_array)),
                        jax.tree.leaves(eqx.filter(theirs, eqx.is_inexact_array)))
    )  # fmt: skip
    print(f"  loss gradient: max relative difference over the parameters {worst:.1e}")


def train_reference(reference_dir: str, args, seed: int) -> list[float]:
    """The reference's `train` (Adam branch); its test error every `--eval-every` iterations."""
    trainer = new_reference(reference_dir, args, seed)
    test = trainer.test
    trainer.test = lambda it, pde: test(it, pde) if (it + 1) % args.eval_every == 0 else None
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.makedirs(os.path.join(folder, "results", "log"))
        os.chdir(folder)
        try:
            trainer.output_path = os.path.join(folder, "figures")
            os.makedirs(trainer.output_path)
            trainer.train()
        finally:
            os.chdir(here)
    return [float(e) for e in trainer.loss_list]


def train_ours(args, seed: int) -> list[float]:
    """Our PIG with the same loss, points and optimizer through `jsm.fit`."""
    problem = ph.Helmholtz(A1, A2)
    points = ph.Collocation(problem.domain, args.interior, boundary=args.per_face,
                            resample_every=1)  # fmt: skip
    test = ph.ReferenceSolution.from_problem(problem, args.test_points)
    _, history = jsm.fit(
        our_model(args, seed), points, epochs=args.iterations, batch_size=args.interior,
        loss=ph.PhysicsLoss(problem, residual_weight=RESIDUAL_WEIGHT),
        optimizer=optax.adam(optax.exponential_decay(1e-2, 1, 0.9995)),
        evaluation=jsm.Evaluation(test, every=args.eval_every), seed=seed, progress=False,
        mesh=parallel.data_mesh(jax.devices()[:1]),
    )  # fmt: skip
    return [h["eval.relative_l2"] for h in history if "eval.relative_l2" in h]


def run(args) -> dict:
    import torch

    torch.set_default_dtype(torch.float32)
    compare_on_identical_weights(args.reference_dir, args)
    result = train_side_by_side(
        args.seeds,
        lambda seed: train_reference(args.reference_dir, args, seed),
        lambda seed: train_ours(args, seed),
        digits=".3e",
    )
    return result | {"unit": ("iteration", args.eval_every)}
