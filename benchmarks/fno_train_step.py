"""FNO-2D train-step throughput: jaxsciml against neuraloperator on a matched configuration.

Question: how many samples per second does one optimizer step (forward, backward, Adam update)
process, ours against neuraloperator's FNO, on the same model size, batch and data?

Configuration: the FNO paper's Darcy model (width 32, 4 Fourier layers, 12 modes per corner,
projection 128, input a plus x, y grid channels): 2,368,001 parameters in both libraries
(neuraloperator `n_modes=(24, 22)` keeps exactly our frequencies; `lifting_channel_ratio=0` and
`use_channel_mlp=False` give the paper's lifting and blocks). Relative L2 loss, Adam, float32
(full-precision matrix products in both: no TF32), batch 20, random inputs. Both steps run in
one process, interleaved (ours, theirs, ours, ...), after a warm-up; we report the median over
repetitions, with min and max. The process shares one host heap among its threads, as
`jaxsciml train` does (`jaxsciml.keep_host_memory(share_heap=True)`), so both libraries' steps
reuse their scratch memory instead of faulting it in afresh; it speeds PyTorch's step as well (at
128², neuraloperator's from 2.1 s to 0.8 s). `--separate-heaps` keeps what `import jaxsciml`
sets, `JAXSCIML_KEEP_HOST_MEMORY=0` glibc's defaults.

    python benchmarks/fno_train_step.py --quick          # 64x64 only, few repetitions
    python benchmarks/fno_train_step.py                  # 64x64 and 128x128
    python benchmarks/fno_train_step.py --json out.json  # also write the numbers
"""

import argparse
import functools
import json
import os
import platform
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import package_versions

import jaxsciml as jsm
from jaxsciml import parallel
from jaxsciml.data import Batch
from jaxsciml.losses import relative_l2_loss
from jaxsciml.nn import apply_batch, pointwise
from jaxsciml.train import make_train_step
from jaxsciml.train.step import split_model


WIDTH, DEPTH, MODES, PROJECTION = 32, 4, 12, 128


def timed(run, repetitions):
    """Median, min and max seconds of `run()` (which must block until its work is done)."""
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


class Ours:
    def __init__(self, resolution, batch_size, transform="auto"):
        model = jsm.FNO(
            1,
            1,
            (MODES, MODES),
            WIDTH,
            DEPTH,
            PROJECTION,
            transform=transform,
            key=jax.random.key(0),
        )
        self.name = f"jaxsciml ({transform})" if transform != "auto" else "jaxsciml"
        self.parameters = jsm.count_parameters(model)
        self.mesh = mesh = parallel.data_mesh(jax.devices()[:1])
        params, self.frozen, self.static = split_model(model)
        optimizer = optax.adam(1e-3)
        self.state = [
            parallel.replicate(params, mesh),
            parallel.replicate(optimizer.init(params), mesh),
        ]
        self.step = make_train_step(relative_l2_loss, optimizer, self.static, mesh)
        rng = np.random.default_rng(0)
        shape = (batch_size, 1, resolution, resolution)
        self.batch = Batch(
            jnp.asarray(rng.standard_normal(shape), jnp.float32),
            jnp.asarray(rng.standard_normal(shape), jnp.float32),
        )
        self.key = jax.random.key(0)
        self.forward = eqx.filter_jit(apply_batch)

    def train_step(self):
        params, opt_state, loss = self.step(
            self.state[0], self.frozen, self.state[1], self.batch, self.key
        )
        self.state = [params, opt_state]
        jax.block_until_ready(loss)
        return float(loss)

    def compile_seconds(self):
        start = time.perf_counter()
        self.train_step()
        return time.perf_counter() - start

    def inference(self):
        model = eqx.combine(self.state[0], self.frozen, self.static)
        jax.block_until_ready(self.forward(model, self.batch.inputs))

    def cost(self):
        """XLA's count of floating-point operations and bytes accessed by one train step, for
        the step without chunked pointwise MLPs: XLA counts a loop's body once, so the chunked
        projection would look nearly free."""
        saved, pointwise.CHUNK_BYTES = pointwise.CHUNK_BYTES, float("inf")
        try:  # a fresh step: the timed one keeps its own trace
            step = make_train_step(relative_l2_loss, optax.adam(1e-3), self.static, self.mesh)
            lowered = step.lower(self.state[0], self.frozen, self.state[1], self.batch, self.key)
        finally:
            pointwise.CHUNK_BYTES = saved
        compiled = lowered.compile()
        analysis = compiled.cost_analysis()
        analysis = analysis[0] if isinstance(analysis, list) else analysis
        return analysis.get("flops", float("nan")), analysis.get("bytes accessed", float("nan"))


class Theirs:
    name = "neuraloperator"

    def __init__(self, resolution, batch_size, transform=None):
        import torch
        from neuralop.models import FNO

        torch.manual_seed(0)
        torch.set_num_threads(os.cpu_count())
        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = FNO(
            n_modes=(2 * MODES, 2 * MODES - 2),
            in_channels=1,
            out_channels=1,
            hidden_channels=WIDTH,
            n_layers=DEPTH,
            lifting_channel_ratio=0,
            projection_channel_ratio=PROJECTION // WIDTH,
            use_channel_mlp=False,
        ).to(self.device)
        self.parameters = sum(
            p.numel() * (2 if p.is_complex() else 1) for p in self.model.parameters()
        )
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        rng = np.random.default_rng(0)
        shape = (batch_size, 1, resolution, resolution)
        self.x = torch.tensor(rng.standard_normal(shape), dtype=torch.float32, device=self.device)
        self.y = torch.tensor(rng.standard_normal(shape), dtype=torch.float32, device=self.device)

    def loss(self):
        prediction = self.model(self.x)
        b = prediction.shape[0]
        difference = (prediction - self.y).reshape(b, -1).norm(dim=1)
        return (difference / self.y.reshape(b, -1).norm(dim=1)).mean()

    def train_step(self):
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss()
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())  # synchronizes with the device

    def compile_seconds(self):
        start = time.perf_counter()
        self.train_step()
        return time.perf_counter() - start

    def inference(self):
        with self.torch.no_grad():
            self.model(self.x)
        if self.device == "cuda":
            self.torch.cuda.synchronize()


def print_table(rows):
    columns = [
        "library",
        "res",
        "params",
        "step ms (min-max)",
        "samples/s",
        "infer ms",
        "1st call s",
    ]
    print(" | ".join(columns))
    for r in rows:
        ms = lambda key: f"{1e3 * r[key]:.1f}"
        cells = [
            r["library"],
            str(r["resolution"]),
            f"{r['parameters']:,d}",
            f"{ms('step_median_s')} ({ms('step_min_s')}-{ms('step_max_s')})",
            f"{r['train_samples_per_s']:.1f}",
            ms("inference_median_s"),
            f"{r['first_call_s']:.2f}",
        ]
        print(" | ".join(cells))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="64x64 only, 10 repetitions")
    parser.add_argument("--resolutions", type=int, nargs="+", default=None)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--repetitions", type=int, default=None)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument(
        "--transforms",
        nargs="+",
        default=["auto"],
        help="our spectral transforms to time: auto, fft, dft (each is one contender)",
    )
    parser.add_argument(
        "--matmul-precision",
        default="highest",
        help="JAX's float32 matrix-product precision; 'highest' matches PyTorch, whose float32 "
        "products do not use TF32 unless asked to ('default' lets XLA use TF32 on GPUs)",
    )
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="float32 peak, for the floor"
    )
    parser.add_argument(
        "--bandwidth-tbs", type=float, default=None, help="memory TB/s, for the floor"
    )
    parser.add_argument(
        "--separate-heaps",
        action="store_true",
        help="leave the host allocator as `import jaxsciml` sets it (per-thread heaps)",
    )
    args = parser.parse_args()
    # before JAX's first computation (`jax.devices()` included) and PyTorch's threads
    shared = not args.separate_heaps and jsm.keep_host_memory(share_heap=True)
    jax.config.update("jax_default_matmul_precision", args.matmul_precision)
    resolutions = args.resolutions or ([64] if args.quick else [64, 128])
    repetitions = args.repetitions or (10 if args.quick else 20)

    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(
        "devices:",
        jax.devices(),
        "| CPU cores:",
        os.cpu_count(),
        "|",
        platform.processor() or platform.machine(),
    )
    print(
        "versions:",
        package_versions(["jax", "jaxlib", "equinox", "optax", "torch", "neuraloperator"]),
    )
    print("host heap:", "one, shared by all threads" if shared else "as on import")
    contenders = [functools.partial(Ours, transform=t) for t in args.transforms]
    try:
        import neuralop  # noqa: F401

        contenders.append(Theirs)
    except ImportError:
        print("neuraloperator is not installed (pip install -e '.[peers]'): peer skipped")

    rows = []
    for resolution in resolutions:
        runners = [c(resolution, args.batch_size) for c in contenders]
        if args.peak_tflops and args.bandwidth_tbs:
            flops, moved = runners[0].cost()
            floor = max(flops / (args.peak_tflops * 1e12), moved / (args.bandwidth_tbs * 1e12))
            print(
                f"{resolution}x{resolution}: XLA counts {flops / 1e9:.1f} GFLOP and "
                f"{moved / 1e9:.2f} GB per step of {runners[0].name}: floor {1e3 * floor:.2f} ms"
            )
        compile_seconds = {r.name: r.compile_seconds() for r in runners}
        for r in runners:  # warm-up beyond the first (compiling) call
            r.train_step()
            r.inference()
        step_times = {r.name: [] for r in runners}
        inference_times = {r.name: [] for r in runners}
        for _ in range(repetitions):  # interleaved: A B A B ...
            for r in runners:
                step_times[r.name] += timed(r.train_step, 1)
                inference_times[r.name] += timed(r.inference, 1)
        for r in runners:
            steps, infer = np.array(step_times[r.name]), np.array(inference_times[r.name])
            rows.append(
                {
                    "library": r.name,
                    "resolution": resolution,
                    "batch_size": args.batch_size,
                    "parameters": r.parameters,
                    "step_median_s": float(np.median(steps)),
                    "step_min_s": float(steps.min()),
                    "step_max_s": float(steps.max()),
                    "train_samples_per_s": args.batch_size / float(np.median(steps)),
                    "inference_median_s": float(np.median(infer)),
                    "first_call_s": compile_seconds[r.name],
                }
            )

    print_table(rows)
    for resolution in resolutions:
        at = [r for r in rows if r["resolution"] == resolution]
        theirs = [r for r in at if r["library"] == "neuraloperator"]
        for ours in (r for r in at if r["library"] != "neuraloperator" and theirs):
            step = theirs[0]["step_median_s"] / ours["step_median_s"]
            infer = theirs[0]["inference_median_s"] / ours["inference_median_s"]
            print(
                f"ratio at {resolution}x{resolution}, neuraloperator time / {ours['library']}: "
                f"train step {step:.2f}x, inference {infer:.2f}x"
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"argv": sys.argv, "devices": str(jax.devices()), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
