"""Cost of the spectral entropy regularizer, measured side by side in one run.

Run: ``python benchmarks/bench_regularizer.py [--steps 11] [--repeats 30] [--sizes 48 96]
[--parts a b c]``.

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
    runs its own small XLA kernels). Printed as in (a) (goal <= 3), then the floor: the
    summed median times of the TensorFlow ops any implementation needs, measured in the
    same alternation, over the rfft3d. These are the max over the classes (one read of the
    logits), the rfft3d, a second transform of the same size for the gradient (an irfft3d,
    or a second rfft3d as speccal's Hartley-domain gradient uses, whichever is faster) and
    writing a logits-sized gradient.
(c) Forward + backward of the tapered regularizer (``taper="hamming"``) vs the untapered one
    (the paper's), same logits, alternating, with and without XLA: the window costs one
    multiplication into the maps and one into their gradient, fused into existing passes.

Timings follow warm-up calls. The machine may be shared: ratios of interleaved measurements
are what to read, not absolute times; under heavy load the ratio of minima is the steadier.
"""

import argparse
import functools
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
    """Times of the regularizer's forward + backward, of one rfft3d, and of the TF ops any
    implementation of it needs: the max over the classes (one read of the logits), the
    rfft3d, an irfft3d, and writing a logits-sized gradient (a broadcast of the confidence
    maps over the classes)."""
    from speccal.losses import SpectralEntropyRegularizer

    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(size=(2, 96, 96, 96, 4)).astype(np.float32))
    conf = tf.reduce_max(logits, axis=-1)
    spectrum = tf.signal.rfft3d(conf)
    regularizer = SpectralEntropyRegularizer()
    compiled = functools.partial(tf.function, jit_compile=jit)

    @compiled
    def forward_backward(z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            value = regularizer(z)
        return value, tape.gradient(value, z)

    rfft = compiled(tf.signal.rfft3d)
    irfft = compiled(lambda s: tf.signal.irfft3d(s, fft_length=conf.shape[1:]))
    # The fastest forms found of the two passes over logits-sized memory (XLA in both modes;
    # without XLA, TensorFlow's reduce_max over 4 classes alone took 10 ms).
    xla = functools.partial(tf.function, jit_compile=True)
    class_max = xla(lambda z: functools.reduce(tf.maximum, tf.unstack(z, axis=-1)))
    broadcast = xla(lambda c: tf.broadcast_to(c[..., None], logits.shape))
    # Calls return once their outputs are computed (TensorFlow executes synchronously on
    # CPU), so nothing is copied out: a host copy would time memcpy of 28 MB of gradient
    # against 7 MB of spectrum.
    return interleaved_times(
        {
            "rfft3d": lambda: rfft(conf),
            "regularizer": lambda: forward_backward(logits),
            "max": lambda: class_max(logits),
            "irfft3d": lambda: irfft(spectrum),
            "gradient write": lambda: broadcast(conf),
        },
        repeats=repeats,
        warmup=3,
    )


def taper_ratio(jit, repeats):
    """Times of the regularizer's forward + backward without and with the Hamming taper."""
    from speccal.losses import SpectralEntropyRegularizer

    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(size=(2, 96, 96, 96, 4)).astype(np.float32))
    functions = {}
    for name, taper in (("untapered", None), ("hamming", "hamming")):
        regularizer = SpectralEntropyRegularizer(taper=taper)

        @functools.partial(tf.function, jit_compile=jit)
        def forward_backward(z, regularizer=regularizer):
            with tf.GradientTape() as tape:
                tape.watch(z)
                value = regularizer(z)
            return value, tape.gradient(value, z)

        functions[name] = lambda f=forward_backward: f(logits)
    return interleaved_times(functions, repeats=repeats, warmup=3)


def report_floor(times):
    """The ratio no implementation made of TensorFlow ops can beat on this machine."""
    med = {n: float(np.median(t)) for n, t in times.items()}
    inverse = min(med["rfft3d"], med["irfft3d"])
    floor = med["max"] + med["rfft3d"] + inverse + med["gradient write"]
    print(
        f"           floor: max {med['max'] * 1e3:.1f} + rfft3d {med['rfft3d'] * 1e3:.1f}"
        f" + min(rfft3d, irfft3d {med['irfft3d'] * 1e3:.1f}) {inverse * 1e3:.1f}"
        f" + gradient write {med['gradient write'] * 1e3:.1f} = {floor * 1e3:.1f} ms,"
        f" ratio {floor / med['rfft3d']:5.3f} (medians)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=11, help="timed U-Net steps per loss")
    parser.add_argument("--repeats", type=int, default=30, help="timed regularizer calls")
    parser.add_argument("--sizes", type=int, nargs="+", default=[48, 96], help="patch sizes")
    parser.add_argument(
        "--parts", nargs="+", choices=("a", "b", "c"), default=["a", "b", "c"], help="what to run"
    )
    args = parser.parse_args()

    print(f"tensorflow {tf.__version__}, {os.cpu_count()} CPU cores (possibly shared)")
    # (a) first, in a fresh process like a training run: measured after the XLA
    # microbenchmarks of (b), the U-Net steps of this process were slower and noisier.
    if "a" in args.parts:
        print("(a) U-Net train step, batch 2, CESpectral vs CE (goal <= 1.03)")
        for size in args.sizes:
            report(f"{size}^3", ("ce", "cespectral"), train_step_ratio(size, args.steps))
    if "b" in args.parts:
        print("(b) regularizer forward+backward vs one rfft3d, 2x96^3x4 logits (goal <= 3)")
        for jit in (True, False):
            label = "XLA   " if jit else "no XLA"
            times = regularizer_ratio(jit, args.repeats)
            report(label, ("rfft3d", "regularizer"), times)
            report_floor(times)
    if "c" in args.parts:
        print("(c) regularizer forward+backward, taper='hamming' vs none, 2x96^3x4 logits")
        for jit in (True, False):
            label = "XLA   " if jit else "no XLA"
            report(label, ("untapered", "hamming"), taper_ratio(jit, args.repeats))


if __name__ == "__main__":
    main()
