"""Neural ODEs and SDEs: local regularization's effect on solver cost, torchdiffeq, overhead.

Questions, one run:

(a) Does local error regularization (Pal, Edelman and Rackauckas 2023) cut the function
    evaluations (NFE) of a trained neural ODE and neural SDE without costing accuracy? Goal:
    test NFE at most 0.7x the unregularized model's, test accuracy at most 1 point lower.
(b) How long does our neural ODE train step take against torchdiffeq's on the same model,
    solver and tolerances?
(c) What does our `NeuralODE` wrapper cost over calling `diffrax.diffeqsolve` directly?

Task (a): classify points of two concentric rings in the plane (inner disc of radius 0.5 against
the annulus 1 < r < 1.5), the classic problem a neural ODE must bend space for. The state is the
point augmented with two zeros (Dupont et al.'s augmented NODE), the vector field a time-dependent
MLP 4 -> 64 -> 64 -> 4 (softplus, tanh output scaled by 4), solved over t in [0, 1] with Tsit5
and a PID controller; a linear read-out of the final state gives the logits. A batch is one
system (shared steps, as in the paper's Julia code and torchdiffeq), so NFE is per batch. Fresh
points every step, Adam 3e-3, cross-entropy plus `weight · R` with the weight decaying
exponentially from `--weight` to a tenth of it (the paper decays 2.5 -> 1 on MNIST and
100 -> 10 on PhysioNet; the global penalty sums every step's error and takes
`--global-weight`). The neural SDE adds a diagonal diffusion (MLP, tanh output scaled by 0.2),
solved with Heun (Stratonovich) on a Brownian tree at `--sde-tol` (the paper's MNIST SDE used
0.14); its NFE counts drift evaluations (the diffusion is evaluated as often). Test: 2,000 fresh
points, NFE of the solve and the median
prediction time over repetitions (interleaved between variants), accuracy.

(b) One train step (forward to t = 1, cross-entropy, backward, Adam) on a batch of 256 with
Dopri5, rtol = atol = `--tol`: ours (RecursiveCheckpointAdjoint, i.e. backpropagation through
the solver) against torchdiffeq's `odeint` (backpropagation through the solver), the same
initial weights, float32, interleaved, median of `--rounds`.

(c) Forward and gradient of the same loss through `solvers.NeuralODE` and through a bare
`diffrax.diffeqsolve` with identical solver, controller, adjoint, `dt0` and `max_steps`.

    python benchmarks/neural_ode.py --quick     # ~3 minutes on 2 CPU cores
    python benchmarks/neural_ode.py             # 1500 training steps per variant, 3 seeds
    python benchmarks/neural_ode.py --ode-only --variants unbiased --seeds 5   # (a), ODE alone
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import interleaved_times, package_versions

import solvers


AUGMENT = 2
STATE = 2 + AUGMENT
TS = jnp.array([0.0, 1.0])


def rings(n: int, key) -> tuple[jax.Array, jax.Array]:
    """`n` points `(n, 2)`: label 0 inside radius 0.5, label 1 in the annulus 1 < r < 1.5."""
    k_label, k_angle, k_radius = jax.random.split(key, 3)
    label = jax.random.bernoulli(k_label, 0.5, (n,))
    angle = jax.random.uniform(k_angle, (n,), maxval=2 * jnp.pi)
    u = jax.random.uniform(k_radius, (n,))
    radius = jnp.where(label, 1.0 + 0.5 * u, 0.5 * u)
    return radius[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], 1), label.astype(int)


class Batched(eqx.Module):
    """A per-sample vector field applied to a batch `(B, D)` solved as one system."""

    field: eqx.Module

    def __call__(self, t, y, args):
        return jax.vmap(self.field, in_axes=(None, 0, None))(t, y, args)


class Classifier(eqx.Module):
    dynamics: solvers.NeuralODE | solvers.NeuralSDE
    readout: eqx.nn.Linear

    def initial_state(self, x):
        return jnp.concatenate([x, jnp.zeros((x.shape[0], AUGMENT), x.dtype)], 1)

    def solve(self, x, key, regularizer: str | None):
        """Final states, penalty and cost; `regularizer` None, "unbiased", "biased", "global"."""
        y0 = self.initial_state(x)
        sde = isinstance(self.dynamics, solvers.NeuralSDE)
        if regularizer is None:
            solution = self.dynamics.solve(TS, y0, key=key) if sde else self.dynamics.solve(TS, y0)
            return solution.ys[-1], 0.0, solution.cost
        if regularizer == "global":
            result = solvers.global_regularization(self.dynamics, TS, y0, key=key if sde else None)
        else:
            result = solvers.local_regularization(
                self.dynamics, TS, y0, key=key, sampling=regularizer
            )
        return result.solution.ys[-1], result.penalty, result.solution.cost

    def logits(self, final):
        return jax.vmap(self.readout)(final)


def cross_entropy(logits, labels):
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1))


def make_classifier(kind: str, tol: float, seed: int) -> Classifier:
    k_field, k_noise, k_out = jax.random.split(jax.random.key(seed), 3)
    field = Batched(
        solvers.MLPVectorField(STATE, 64, 2, scale=4.0, time_dependent=True, key=k_field)
    )
    controller = dfx.PIDController(rtol=tol, atol=tol)
    if kind == "ode":
        dynamics = solvers.NeuralODE(field, stepsize_controller=controller)
    else:
        noise = Batched(solvers.MLPVectorField(STATE, 16, 1, scale=0.2, key=k_noise))
        dynamics = solvers.NeuralSDE(
            field, noise, stepsize_controller=controller, brownian_tol=1e-3
        )
    return Classifier(dynamics, eqx.nn.Linear(STATE, 2, key=k_out))


def train(kind, regularizer, steps, weight, tol, seed, batch_size=256):
    """Train one variant; returns the model and its training seconds (compilation included)."""
    model = make_classifier(kind, tol, seed)
    optimizer = optax.adam(3e-3)
    state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))

    @eqx.filter_jit
    def step(model, state, x, labels, key, w):
        def loss(m):
            final, penalty, _ = m.solve(x, key, regularizer)
            return cross_entropy(m.logits(final), labels) + w * penalty

        value, grads = eqx.filter_value_and_grad(loss)(model)
        updates, state = optimizer.update(grads, state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), state, value

    started = time.perf_counter()
    for i in range(steps):
        x, labels = rings(batch_size, jax.random.key(10_000 * seed + i))
        w = weight * 0.1 ** (i / max(steps - 1, 1))
        model, state, value = step(model, state, x, labels, jax.random.key(i), jnp.float32(w))
    jax.block_until_ready(value)
    return model, time.perf_counter() - started


def evaluate(models: dict, rounds: int):
    x, labels = rings(2000, jax.random.key(99))
    key = jax.random.key(123)
    predict = eqx.filter_jit(lambda m: m.solve(x, key, None))
    rows = {}
    for name, model in models.items():
        final, _, cost = predict(model)
        accuracy = float(jnp.mean(jnp.argmax(model.logits(final), 1) == labels))
        rows[name] = {"accuracy": accuracy, "nfe": int(cost.nfe), "steps": int(cost.num_steps)}
    times = interleaved_times(
        {name: (lambda m=m: predict(m)[0]) for name, m in models.items()}, rounds
    )
    for name in rows:
        rows[name]["predict_ms"] = times[name]["median_ms"]
    return rows


def regularization_study(kind, variants: dict, steps, tol, seeds, rounds):
    """Every variant (`regularizer -> weight`) trained from every seed: `(rows per variant, the
    last seed's models)`."""
    rows = {}
    for seed in seeds:
        models, train_s = {}, {}
        for variant, weight in variants.items():
            models[variant], train_s[variant] = train(kind, variant, steps, weight, tol, seed)
        for variant, row in evaluate(models, rounds).items():
            row["train_s"] = train_s[variant]
            rows.setdefault(variant, []).append(row)
    return rows, models


def torchdiffeq_step(model, batch_size, rounds):
    """(b): our train step and torchdiffeq's from the weights of `model` (a trained classifier,
    so that the dynamics take the steps training meets), interleaved."""
    try:
        import torch
        import torchdiffeq
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count())
    tol = model.dynamics.stepsize_controller.rtol
    model = eqx.tree_at(lambda m: m.dynamics.solver, model, dfx.Dopri5())
    mlp = model.dynamics.vector_field.field.mlp

    class TorchField(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(
                torch.nn.Linear(layer.in_features, layer.out_features) for layer in mlp.layers
            )
            with torch.no_grad():
                for theirs, ours in zip(self.layers, mlp.layers):
                    theirs.weight.copy_(torch.from_numpy(np.asarray(ours.weight)))
                    theirs.bias.copy_(torch.from_numpy(np.asarray(ours.bias)))
            self.calls = 0

        def forward(self, t, y):
            self.calls += 1
            h = torch.cat([y, t.expand(y.shape[0], 1)], 1)
            for layer in self.layers[:-1]:
                h = torch.nn.functional.softplus(layer(h))
            return 4.0 * torch.tanh(self.layers[-1](h))

    field = TorchField()
    readout = torch.nn.Linear(STATE, 2)
    with torch.no_grad():
        readout.weight.copy_(torch.from_numpy(np.asarray(model.readout.weight)))
        readout.bias.copy_(torch.from_numpy(np.asarray(model.readout.bias)))
    torch_optimizer = torch.optim.Adam([*field.parameters(), *readout.parameters()], lr=3e-3)
    x, labels = rings(batch_size, jax.random.key(5))
    tx = torch.from_numpy(np.asarray(model.initial_state(x)))
    tlabels = torch.from_numpy(np.asarray(labels)).long()
    tts = torch.tensor([0.0, 1.0])

    def theirs():
        torch_optimizer.zero_grad()
        final = torchdiffeq.odeint(field, tx, tts, method="dopri5", rtol=tol, atol=tol)[-1]
        loss = torch.nn.functional.cross_entropy(readout(final), tlabels)
        loss.backward()
        torch_optimizer.step()
        return loss.item()

    optimizer = optax.adam(3e-3)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    state = optimizer.init(params)

    @jax.jit
    def ours_step(params, state):
        def loss(p):
            m = eqx.combine(p, static)
            final, _, cost = m.solve(x, None, None)
            return cross_entropy(m.logits(final), labels), cost.nfe

        (value, nfe), grads = jax.value_and_grad(loss, has_aux=True)(params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value, nfe

    box = {"params": params, "state": state}

    def ours():
        box["params"], box["state"], value, box["nfe"] = ours_step(box["params"], box["state"])
        return value

    started = time.perf_counter()
    jax.block_until_ready(ours())
    compile_s = time.perf_counter() - started
    field.calls = 0
    theirs()
    their_nfe = field.calls
    times = interleaved_times({"jaxsciml": ours, "torchdiffeq": theirs}, rounds)
    times["jaxsciml"].update(nfe_forward=int(box["nfe"]), compile_s=compile_s)
    times["torchdiffeq"].update(nfe_forward=their_nfe)
    return times


def wrapper_overhead(model, batch_size, rounds):
    """(c): the same forward + gradient through NeuralODE and through bare diffeqsolve."""
    tol = model.dynamics.stepsize_controller.rtol
    x, labels = rings(batch_size, jax.random.key(6))
    y0 = model.initial_state(x)
    dt0 = 0.05
    ode = eqx.tree_at(
        lambda m: m.dynamics,
        model,
        solvers.NeuralODE(
            model.dynamics.vector_field,
            stepsize_controller=dfx.PIDController(rtol=tol, atol=tol),
            dt0=dt0,
        ),
    )

    def through_wrapper(m):
        return cross_entropy(m.logits(m.dynamics.solve(TS, y0).ys[-1]), labels)

    def through_diffrax(m):
        solution = dfx.diffeqsolve(
            dfx.ODETerm(m.dynamics.vector_field),
            dfx.Tsit5(),
            0.0,
            1.0,
            dt0,
            y0,
            saveat=dfx.SaveAt(ts=TS),
            stepsize_controller=dfx.PIDController(rtol=tol, atol=tol),
            adjoint=dfx.RecursiveCheckpointAdjoint(),
            max_steps=4096,
        )
        return cross_entropy(m.logits(solution.ys[-1]), labels)

    calls = {}
    for name, loss in (
        ("solvers.NeuralODE", through_wrapper),
        ("diffrax.diffeqsolve", through_diffrax),
    ):
        grad = eqx.filter_jit(eqx.filter_value_and_grad(loss))
        jax.block_until_ready(grad(ode))
        calls[name] = lambda grad=grad: grad(ode)[0]
    return interleaved_times(calls, rounds, reps=3)


def summarize(rows):
    """Mean over seeds of each variant's metrics."""
    return {v: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for v, rs in rows.items()}


def print_study(title, rows, baseline="none"):
    mean = summarize(rows)
    print(f"\n{title}  (mean over {len(rows[baseline])} seed(s))")
    print(
        f"{'variant':10s} {'test NFE':>9s} {'x base':>7s} {'acc %':>7s} {'predict ms':>11s} "
        f"{'x base':>7s} {'train s':>8s}"
    )
    base = mean[baseline]
    for name, r in mean.items():
        nfe_ratio, time_ratio = r["nfe"] / base["nfe"], r["predict_ms"] / base["predict_ms"]
        print(
            f"{name:10s} {r['nfe']:9.1f} {nfe_ratio:7.3f} {100 * r['accuracy']:7.2f} "
            f"{r['predict_ms']:11.2f} {time_ratio:7.3f} {r['train_s']:8.1f}"
        )
    print("per seed (test NFE, accuracy %):")
    for name, seeds in rows.items():
        print(
            f"  {name:10s} " + "  ".join(f"{r['nfe']:4d} {100 * r['accuracy']:6.2f}" for r in seeds)
        )
    print("per seed, test NFE over the unregularized model's (the goal: at most 0.7 on each):")
    for name, seeds in rows.items():
        if name != baseline:
            ratios = [r["nfe"] / b["nfe"] for r, b in zip(seeds, rows[baseline], strict=True)]
            listed = "  ".join(f"{ratio:5.3f}" for ratio in ratios)
            print(f"  {name:10s} {listed}   (largest {max(ratios):.3f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, one seed (CPU)")
    parser.add_argument("--steps", type=int, default=None, help="training steps per variant")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--weight", type=float, default=500.0, help="ODE regularization weight")
    parser.add_argument("--sde-weight", type=float, default=300.0)
    parser.add_argument(
        "--global-weight", type=float, default=0.1, help="global regularizer (a sum over steps)"
    )
    parser.add_argument(
        "--variants", default=None, help="ODE regularizers to train, e.g. 'unbiased,global'"
    )
    parser.add_argument("--tol", type=float, default=1e-5, help="ODE rtol = atol")
    parser.add_argument("--sde-tol", type=float, default=1e-2, help="SDE rtol = atol")
    parser.add_argument("--rounds", type=int, default=10, help="timed repetitions")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--ode-only", action="store_true", help="only the neural ODE study of (a): no SDE, (b), (c)"
    )
    args = parser.parse_args()
    steps = args.steps or (400 if args.quick else 1500)
    seeds = range(args.seeds or (1 if args.quick else 3))
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print("devices:", jax.devices(), "| cpus:", os.cpu_count(), "|", platform.processor())
    print("versions:", package_versions(["jax", "diffrax", "equinox", "torch", "torchdiffeq"]))
    print(
        f"steps {steps}, seeds {len(seeds)}, tol {args.tol} (ODE) {args.sde_tol} (SDE), weight "
        f"{args.weight} (ODE local) {args.global_weight} (ODE global) {args.sde_weight} (SDE), "
        "decaying to a tenth"
    )
    results = {}

    names = args.variants or ("unbiased,biased" if args.quick else "unbiased,biased,global")
    weights = {"unbiased": args.weight, "biased": args.weight, "global": args.global_weight}
    ode_variants = {None: 0.0, **{name: weights[name] for name in names.split(",")}}
    ode, ode_models = regularization_study("ode", ode_variants, steps, args.tol, seeds, args.rounds)
    results["ode"] = {str(k or "none"): v for k, v in ode.items()}
    print_study("(a) neural ODE, rings", results["ode"])
    if args.ode_only:
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return

    sde_steps = steps // 2 if args.quick else steps
    sde_variants = {None: 0.0, "unbiased": args.sde_weight}
    sde, _ = regularization_study("sde", sde_variants, sde_steps, args.sde_tol, seeds, args.rounds)
    results["sde"] = {str(k or "none"): v for k, v in sde.items()}
    print_study(f"(a) neural SDE, rings ({sde_steps} steps)", results["sde"])

    trained = ode_models[None]  # the unregularized model of the last seed
    step = torchdiffeq_step(trained, 256, 3 * args.rounds)
    if step is None:
        print("\n(b) torchdiffeq is not installed (pip install -e '.[peers]'): peer skipped")
    else:
        results["train_step"] = step
        ours, theirs = step["jaxsciml"], step["torchdiffeq"]
        print("\n(b) train step from the trained weights, batch 256, Dopri5, backprop")
        for name, r in step.items():
            spread = f"(min {r['min_ms']:.2f}, max {r['max_ms']:.2f})"
            print(f"{name:12s} {r['median_ms']:8.2f} ms {spread}  forward NFE {r['nfe_forward']}")
        print(
            f"speed-up over torchdiffeq: {theirs['median_ms'] / ours['median_ms']:.2f}x "
            f"(ratio of medians; our compile {ours['compile_s']:.1f} s not included)"
        )

    overhead = wrapper_overhead(trained, 256, 3 * args.rounds)
    results["overhead"] = overhead
    wrapped, bare = overhead["solvers.NeuralODE"], overhead["diffrax.diffeqsolve"]
    print("\n(c) forward + gradient from the trained weights, batch 256, Tsit5, same dt0")
    for name, r in overhead.items():
        print(f"{name:20s} {r['median_ms']:8.2f} ms (min {r['min_ms']:.2f}, max {r['max_ms']:.2f})")
    print(f"wrapper overhead: {100 * (wrapped['median_ms'] / bare['median_ms'] - 1):+.1f}%")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
