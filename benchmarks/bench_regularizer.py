"""Cost of the spectral entropy regularizer, measured side by side in one run.

Run: ``python benchmarks/bench_regularizer.py [--steps 11] [--repeats 30] [--sizes 48 96]``.

(a) One training step (``model.train_on_batch``) of a small 3D U-Net
    (``speccal.models.unet3d(4, 4)``: 8 base filters, 3 levels) on batch 2 at 48³ and 96³,
    with :class:`speccal.losses.CESpectral` vs plain sparse categorical cross-entropy. Both
    models start from the same weights and are compiled the same way (Keras' default on this
    machine: no XLA on a CPU-only host); their steps alternate, so load from other processes
    hits both alike. Printed: median step times, the ratio of the medians (goal <= 1.03) and
    the ratio of the minima (the least disturbed steps).
(b) Forward + backward of the regularizer (``L_spectral`` and its gradient w.r.t. the logits)
    on 2×96³×4 logits vs one ``tf.signal.rfft3d`` of the same confidence maps, each a compiled
    :func:`tf.function`, alternating, with and without XLA (without it, the regularizer still
    runs its own small XLA kernels). Printed as in (a) (goal <= 3).

Timings follow warm-up calls. The machine may be shared: ratios of interleaved measurements
are what to read, not absolute times; under heavy load the ratio of minima is the steadier.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def interleaved_times(functions, repeats, warmup=2):
    """Wall times (s) of each zero-argument callable, calls alternating, after warm-up."""
    for _ in range(warmup):
        for function in functions.values():
            function()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: np.asarray(values) for name, values in times.items()}


def report(label, names, times, unit_digits=1):
    """One line: median times, the ratio of medians and (robust to load) of minima."""
    (base, base_t), (other, other_t) = ((n, times[n]) for n in names)
    med = {n: float(np.median(t)) for n, t in times.items()}
    print(
        f"    {label} {base} {med[base] * 1e3:8.{unit_digits}f} ms   "
        f"{other} {med[other] * 1e3:8.{unit_digits}f} ms   "
        f"ratio {med[other] / med[base]:5.3f} (medians), "
        f"{other_t.min() / base_t.min():5.3f} (minima)"
    )


def train_step_ratio(size, steps):
    import keras

    from speccal.losses import CESpectral
    from speccal.models import unet3d

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, size, size, size, 4)).astype(np.float32)
    y = rng.integers(0, 4, size=(2, size, size, size))
    models = {}
    for name, loss in (
        ("ce", keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
        ("cespectral", CESpectral(lam=0.01)),
    ):
        keras.utils.set_random_seed(0)
        model = unet3d(4, 4, patch_size=(size,) * 3)
        model.compile(keras.optimizers.SGD(0.01), loss=loss)
        models[name] = model
    return interleaved_times(
        {name: (lambda m=m: m.train_on_batch(x, y)) for name, m in models.items()},
        repeats=steps,
    )


def regularizer_ratio(jit, repeats):
    from speccal.losses import SpectralEntropyRegularizer

    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(size=(2, 96, 96, 96, 4)).astype(np.float32))
    conf = tf.reduce_max(logits, axis=-1)
    regularizer = SpectralEntropyRegularizer()

    @tf.function(jit_compile=jit)
    def forward_backward(z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            value = regularizer(z)
        return value, tape.gradient(value, z)

    @tf.function(jit_compile=jit)
    def rfft(c):
        return tf.signal.rfft3d(c)

    return interleaved_times(
        {
            "rfft3d": lambda: rfft(conf).numpy(),
            "regularizer": lambda: [t.numpy() for t in forward_backward(logits)],
        },
        repeats=repeats,
        warmup=3,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=11, help="timed U-Net steps per loss")
    parser.add_argument("--repeats", type=int, default=30, help="timed regularizer calls")
    parser.add_argument("--sizes", type=int, nargs="+", default=[48, 96], help="patch sizes")
    args = parser.parse_args()

    print(f"tensorflow {tf.__version__}, {os.cpu_count()} CPU cores (possibly shared)")
    # (a) first, in a fresh process like a training run: measured after the XLA
    # microbenchmarks of (b), the U-Net steps of this process were slower and noisier.
    print("(a) U-Net train step, batch 2, CESpectral vs CE (goal <= 1.03)")
    for size in args.sizes:
        report(f"{size}^3", ("ce", "cespectral"), train_step_ratio(size, args.steps))
    print("(b) regularizer forward+backward vs one rfft3d, 2x96^3x4 logits (goal <= 3)")
    for jit in (True, False):
        label = "XLA   " if jit else "no XLA"
        report(label, ("rfft3d", "regularizer"), regularizer_ratio(jit, args.repeats))


if __name__ == "__main__":
    main()
