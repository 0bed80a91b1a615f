"""neuraloperator 2.0's FNO rebuilt by `FNO.neuralop`, against neuraloperator itself.

Questions: (1) with neuraloperator's weights copied in, does our model compute its outputs?
(2) trained side by side on identical arrays with the same recipe, do the two reach the same
test error? The recipe is neuraloperator's small-Darcy example (`FNO_Small2d`: 16 modes
(`n_modes=(16, 16)`), hidden 24, projection ratio 2; Adam 5e-3 with weight decay 1e-4, step
decay 0.5 every 60 epochs, 300 epochs, batch 8) on Darcy data that `datagen` makes (the example's
own 16x16 files cannot be downloaded here): trained at 16x16, tested at 16x16 and 32x32. Both
train on the relative L2 loss (the example's H1 loss is not rebuilt here), with no normalizer.

Needs neuraloperator (`pip install -e ".[peers]"`):

    python benchmarks/neuralop_parity.py                     # 1000 train, 200 test, 300 epochs
    python benchmarks/neuralop_parity.py --epochs 20 --seeds 0 1 2
"""

import argparse
import os
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from common import print_run_header

import datagen
import jaxsciml as jsm
from jaxsciml import parallel
from jaxsciml.data import from_arrays
from jaxsciml.train import fno_adam


N_MODES, HIDDEN = (16, 16), 24


def copy_weights(reference, model):
    """Our `FNO.neuralop` model holding `reference`'s weights (neuraloperator 2.0's `FNO`)."""

    def array(t):
        return jnp.asarray(t.detach().cpu().numpy())

    def linear(layer):  # a Conv1d(kernel 1): (out, in, 1) weights
        weight = array(layer.weight)[..., 0]
        return weight, None if layer.bias is None else array(layer.bias)

    def set_linear(tree, where, layer):
        weight, bias = linear(layer)
        tree = eqx.tree_at(lambda m: where(m).weight, tree, weight)
        if bias is not None:
            tree = eqx.tree_at(lambda m: where(m).bias, tree, bias)
        return tree

    for i in range(2):
        model = set_linear(model, lambda m, i=i: m.lifting.layers[i], reference.lifting.fcs[i])
        model = set_linear(
            model, lambda m, i=i: m.projection.layers[i], reference.projection.fcs[i]
        )
    blocks = reference.fno_blocks
    for index in range(len(model.layers)):
        weight = blocks.convs[index].weight.to_tensor().detach().cpu().numpy()  # fftshifted
        half = weight.shape[2] // 2  # frequencies -half .. half-1 on the leading axis
        ours = np.concatenate([weight[:, :, half:], weight[:, :, :half]], axis=2)
        layer = lambda m, index=index: m.layers[index]  # noqa: E731
        model = eqx.tree_at(lambda m: layer(m).spectral.weight_real, model, jnp.asarray(ours.real))
        model = eqx.tree_at(lambda m: layer(m).spectral.weight_imag, model, jnp.asarray(ours.imag))
        bias = array(blocks.convs[index].bias).reshape(-1)
        model = eqx.tree_at(lambda m: layer(m).spectral.bias, model, bias)
        model = set_linear(model, lambda m: layer(m).pointwise, blocks.fno_skips[index].conv)
        for i in range(2):
            model = set_linear(
                model, lambda m, i=i: layer(m).mlp.layers[i], blocks.channel_mlp[index].fcs[i]
            )
        gate = array(blocks.channel_mlp_skips[index].weight).reshape(-1)
        model = eqx.tree_at(lambda m: layer(m).mlp_skip.weight, model, gate)
    return model


def darcy(path: str, samples: int) -> tuple[np.ndarray, np.ndarray]:
    if not os.path.exists(path):
        datagen.generate("darcy", samples, path, resolution=32, seed=0)
    data = jsm.data.load(path)
    batch = data.read(np.arange(samples))
    return batch.inputs, batch.outputs


def relative_l2(prediction, target) -> float:
    difference = (prediction - target).reshape(len(target), -1)
    norms = np.linalg.norm(difference, axis=1) / np.linalg.norm(
        target.reshape(len(target), -1), axis=1
    )
    return float(norms.mean())


def train_reference(torch, reference, x, y, epochs, seed):
    optimizer = torch.optim.Adam(reference.parameters(), lr=5e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=60, gamma=0.5)
    x, y = torch.tensor(x), torch.tensor(y)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x) - 7, 8):
            batch = order[start : start + 8]
            prediction = reference(x[batch])
            difference = (prediction - y[batch]).flatten(1).norm(dim=1)
            loss = (difference / y[batch].flatten(1).norm(dim=1)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
    return reference


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/darcy32_neuralop_parity")
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0])
    args = parser.parse_args()
    import torch
    from neuralop.models import FNO as ReferenceFNO

    torch.set_num_threads(os.cpu_count())
    print_run_header(["jax", "jaxsciml", "torch", "neuraloperator"])
    inputs, outputs = darcy(args.data, args.train + args.test)
    train_x, train_y = inputs[: args.train, :, ::2, ::2], outputs[: args.train, :, ::2, ::2]
    test = {16: (inputs[args.train :, :, ::2, ::2], outputs[args.train :, :, ::2, ::2]),
            32: (inputs[args.train :], outputs[args.train :])}  # fmt: skip

    # (1) one forward pass on identical weights
    torch.manual_seed(0)
    reference = ReferenceFNO(n_modes=N_MODES, in_channels=1, out_channels=1,
                             hidden_channels=HIDDEN)  # fmt: skip
    ours = copy_weights(reference, jsm.FNO.neuralop(N_MODES, 1, 1, HIDDEN, key=jax.random.key(0)))
    for size, (x, _) in test.items():
        with torch.no_grad():
            expected = reference(torch.tensor(x[:8])).numpy()
        got = np.asarray(ours.batched(jnp.asarray(x[:8])))
        print(
            f"forward at {size}x{size}: max |ours - neuraloperator| = "
            f"{np.abs(got - expected).max():.2e} (outputs of size {np.abs(expected).max():.2f})"
        )
    print(
        f"parameters: ours {jsm.count_parameters(ours):,}, neuraloperator "
        f"{sum(p.numel() * (2 if p.is_complex() else 1) for p in reference.parameters()):,}"
    )

    # (2) side by side training
    rows = []
    for seed in args.seeds:
        torch.manual_seed(seed)
        reference = ReferenceFNO(n_modes=N_MODES, in_channels=1, out_channels=1,
                                 hidden_channels=HIDDEN)  # fmt: skip
        begin = time.perf_counter()
        reference = train_reference(torch, reference, train_x, train_y, args.epochs, seed)
        reference_seconds = time.perf_counter() - begin
        with torch.no_grad():
            reference_errors = {s: relative_l2(reference(torch.tensor(x)).numpy(), y)
                                for s, (x, y) in test.items()}  # fmt: skip
        model = jsm.FNO.neuralop(N_MODES, 1, 1, HIDDEN, key=jax.random.key(seed))
        optimizer = fno_adam(args.train // 8, 5e-3, decay_every_epochs=60, weight_decay=1e-4)
        begin = time.perf_counter()
        model, _ = jsm.fit(
            model, from_arrays(train_x, train_y), epochs=args.epochs, batch_size=8,
            optimizer=optimizer, seed=seed, progress=False,
            mesh=parallel.data_mesh(jax.devices()[:1]),
        )  # fmt: skip
        seconds = time.perf_counter() - begin
        errors = {s: relative_l2(np.asarray(model.batched(jnp.asarray(x))), y)
                  for s, (x, y) in test.items()}  # fmt: skip
        rows.append((seed, errors, reference_errors, seconds, reference_seconds))
        print(f"  seed {seed}: ours {errors}, neuraloperator {reference_errors}", flush=True)
    print(f"\n{'seed':>4s} {'ours 16':>8s} {'ours 32':>8s} {'nop 16':>8s} {'nop 32':>8s} "
          f"{'ours s':>7s} {'nop s':>7s}")  # fmt: skip
    for seed, errors, reference_errors, seconds, reference_seconds in rows:
        print(
            f"{seed:>4d} {errors[16]:>8.4f} {errors[32]:>8.4f} {reference_errors[16]:>8.4f} "
            f"{reference_errors[32]:>8.4f} {seconds:>7.0f} {reference_seconds:>7.0f}"
        )


if __name__ == "__main__":
    main()
