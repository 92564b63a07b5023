#!/usr/bin/env python3
"""PTQ end to end on the example Fashion-MNIST models, beside PyTorch's PTQ.

For the CNN and the MLP (python/quantx/models, committed weights) this
script, in one run:

* imports the float model with quantx.importer and runs it through the JIT;
* calibrates it (quantx.ptq.calibrate on the 1,000 calibration images of
  the fixed split; with --observer auto, the default, each observer kind is
  tried (quantx.ptq.select_observer) and the one whose static int8 model
  is most accurate on the 4,000 images of the ``val`` split is used, its
  logit SQNR against float breaking ties: training-set images the model was
  never trained on, as new to it as the test images, which never take part
  in a choice) and rewrites it: static int8, dynamic int8 and
  weight-only int4 (group 16: it divides every Linear layer's K, 784
  included; the CNN's 3x3 convolutions get one scale per output channel,
  as 16 is not a whole number of their 9-tap input channels);
* builds PyTorch's own quantized models on the same calibration images:
  torch.ao.quantization FX graph mode static PTQ (x86 oneDNN backend; this
  torch has no FBGEMM) and
  dynamic quantization of the Linear layers;
* measures test accuracy on the 10,000 test images, fidelity to the float
  model (the SQNR of the logits against PyTorch's float model's, and the
  share of test images whose top class is the float model's, with an exact
  McNemar test of quantx's share against PyTorch's), latency at batch 1 and
  batch 64 (median of repeated calls, both called from Python the same way:
  a numpy array in, a numpy array out; quantx and PyTorch timed in
  alternating rounds, 2 threads each; quantx's OpenMP workers sleep 1 ms
  after a parallel region instead of spinning into PyTorch's turn, and
  each round starts after a 30 ms sleep, by which the workers of the
  side before, PyTorch's too, have stopped spinning) and the
  size of the weights (quantx:
  the PTQ report's bytes; PyTorch: its serialized state dict).

With --calibration-draws N, static int8 (quantx with the chosen observer,
and PyTorch) is also calibrated on N further sets of 1,000 images of the
``train`` split, and the spread of test accuracy over the draws is printed:
how much of a difference between the two is the draw's.

Prints a table and ends with one JSON line. Run against the built tree:

    PYTHONPATH=build/python_packages .venv/bin/python bench/ptq.py
"""

import argparse
import io
import json
import math
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

EVAL_BATCH = 80  # divides the 10,000 test images
AUTO_OBSERVERS = ("min_max", "histogram", "percentile", "entropy", "mse")
BACKEND = "onednn"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def outputs(fn, images, batch):
    """fn's logits for all images, `batch` images per call."""
    return np.concatenate([fn(images[i:i + batch])
                           for i in range(0, len(images), batch)])


def accuracy(fn, images, labels, batch):
    return float((outputs(fn, images, batch).argmax(1) == labels).mean())


def sqnr_db(reference, test):
    """Signal-to-noise ratio (dB) of `test` against `reference` logits."""
    ref = reference.astype(np.float64)
    noise = float(np.sum((ref - test) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(float(np.sum(ref * ref)) / noise)


SETTLE_SECONDS = 0.03


def settle(seconds=SETTLE_SECONDS):
    """Sleeps `seconds`: long enough for the OpenMP workers of whichever
    side ran last to stop spinning and sleep (PyTorch's libgomp spins some
    milliseconds after each parallel region, quantx's libomp 1 ms). A sleep,
    not a busy wait: after a busy wait of this thread, PyTorch's float
    convolutions at batch 1 ran at 4 ms a call instead of 0.4 ms."""
    time.sleep(seconds)


def warm_up(fn, x, min_calls=50, min_seconds=0.5, max_seconds=3.0):
    """Calls fn(x) at least `min_calls` times for at least `min_seconds`
    (at most `max_seconds`). PyTorch's float convolutions at batch 1 run
    about 7x slower for their first ~30 calls (4 ms, then 0.6 ms on the
    CNN), so a few warm-up calls would time its start, not its steady
    state."""
    start = time.perf_counter()
    calls = 0
    while True:
        fn(x)
        calls += 1
        spent = time.perf_counter() - start
        if (calls >= min_calls and spent >= min_seconds) or spent >= max_seconds:
            return


def interleaved_latency(peers, x, repetitions, rounds=5):
    """Median seconds per call of each callable in `peers`, timed in
    `rounds` alternating rounds (after a warm-up of each), so that a change
    in the machine's load affects all of them alike. Each round starts
    after settle(), so that no side's spinning workers take the cores from
    the next one."""
    import quantx.jit
    times = {k: [] for k in peers}
    for fn in peers.values():
        warm_up(fn, x)
    per_round = max(1, repetitions // rounds)
    for _ in range(rounds):
        for k, fn in peers.items():
            settle()
            times[k] += quantx.jit.benchmark(fn, x, warmup=1,
                                             repetitions=per_round).times
    return {k: statistics.median(v) for k, v in times.items()}


def quantx_variants(name, model, calib, tmp, modes, observer, validation):
    """{variant: {"text" per batch size, "bytes"}} for float and each mode."""
    from quantx import importer, ptq

    def imported(batch):
        return importer.import_module(model, (torch.zeros(batch, 1, 28, 28),))

    out = {}
    calib_path = os.path.join(tmp, f"{name}-calib.mlir")
    with open(calib_path, "w") as f:
        f.write(imported(100))

    def calibrate(kind):
        stats = os.path.join(tmp, f"{name}-stats-{kind}.json")
        t = time.perf_counter()
        ptq.calibrate(calib_path, [calib[i:i + 100] for i in range(0, len(calib), 100)],
                      stats, kind=kind, entry="forward")
        log(f"  {name}: calibrated ({kind}) on {len(calib)} images in "
            f"{time.perf_counter() - t:.1f} s")
        return stats

    selection = None
    if observer == "auto":
        # quantx.ptq.select_observer: static int8 with each observer kind,
        # scored on the validation split (held out of training, never the
        # test set): the most accurate wins, its logit SQNR breaking ties.
        t = time.perf_counter()
        val_x, val_y = validation
        selection = ptq.select_observer(
            calib_path, [calib[i:i + 100] for i in range(0, len(calib), 100)],
            val_x, os.path.join(tmp, f"{name}-stats-auto.json"),
            kinds=AUTO_OBSERVERS, labels=val_y, entry="forward",
            progress=lambda line: log(f"  {name}: {line}"))
        observer = selection["observer"]
        log(f"  {name}: observer chosen in {time.perf_counter() - t:.1f} s")
    stats = calibrate(observer)
    for variant in ["float"] + modes:
        texts, nbytes = {}, None
        for batch in (1, 64, EVAL_BATCH):
            src = os.path.join(tmp, f"{name}-{batch}.mlir")
            with open(src, "w") as f:
                f.write(imported(batch))
            if variant == "float":
                texts[batch] = open(src).read()
                continue
            dst = os.path.join(tmp, f"{name}-{variant}-{batch}.mlir")
            mode, group = {"static-int8": ("static-int8", 0),
                           "dynamic-int8": ("dynamic-int8", 0),
                           "weight-int4": ("weight-int4", 16)}[variant]
            rep = ptq.quantize(src, stats if mode == "static-int8" else None, dst,
                               mode=mode, group_size=group,
                               report=os.path.join(tmp, "rep.json"))
            texts[batch] = open(dst).read()
            nbytes = sum(l["bytes_after"] if l["status"] == "quantized" else l["bytes_before"]
                         for l in rep["layers"])
            float_bytes = sum(l["bytes_before"] for l in rep["layers"])
        if variant == "float":
            nbytes = sum(p.numel() * 4 for p in model.parameters())
        out[variant] = {"texts": texts, "bytes": nbytes}
        if variant != "float":
            out[variant]["float_layer_bytes"] = float_bytes
    out["selection"] = selection or {"observer": observer}
    return out


def torch_static(model, calib):
    """PyTorch's static PTQ of `model` calibrated on `calib`."""
    import copy
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    # Debian's python3-torch 1.13 is built without FBGEMM; its x86 quantized
    # backend is oneDNN ("onednn"), the successor of fbgemm for x86 in
    # torch.ao (the "x86" qconfig combines the two).
    torch.backends.quantized.engine = BACKEND
    m = copy.deepcopy(model).eval()
    example = (torch.from_numpy(calib[:1]),)
    prepared = prepare_fx(m, get_default_qconfig_mapping(BACKEND), example)
    with torch.no_grad():
        for i in range(0, len(calib), 100):
            prepared(torch.from_numpy(calib[i:i + 100]))
    return convert_fx(prepared)


def torch_variants(model, calib):
    import copy
    return {"float": model, "static-int8": torch_static(model, calib),
            "dynamic-int8": torch.ao.quantization.quantize_dynamic(
                copy.deepcopy(model).eval(), {torch.nn.Linear}, dtype=torch.qint8)}


def torch_callable(tm):
    def run(x):
        with torch.no_grad():
            return tm(torch.from_numpy(x)).numpy()
    return run


def static_over_draws(name, model, observer, draws, tmp, test):
    """Static int8 test accuracy of quantx (with `observer`) and PyTorch,
    each calibrated on the same images, for every calibration set in
    `draws`: [(quantx, torch)]."""
    import quantx.jit
    from quantx import importer, ptq
    test_x, test_y = test
    src = os.path.join(tmp, f"{name}-draws.mlir")
    with open(src, "w") as f:
        f.write(importer.import_module(model, (torch.zeros(EVAL_BATCH, 1, 28, 28),)))
    calib_src = os.path.join(tmp, f"{name}-calib.mlir")  # batch 100
    out = []
    for d, calib in enumerate(draws):
        stats = os.path.join(tmp, f"{name}-draw-stats.json")
        ptq.calibrate(calib_src, [calib[i:i + 100] for i in range(0, len(calib), 100)],
                      stats, kind=observer, entry="forward")
        dst = os.path.join(tmp, f"{name}-draw.mlir")
        ptq.quantize(src, stats, dst, mode="static-int8")
        fn = quantx.jit.compile(open(dst).read())["forward"]
        out.append((accuracy(fn, test_x, test_y, EVAL_BATCH),
                    accuracy(torch_callable(torch_static(model, calib)),
                             test_x, test_y, EVAL_BATCH)))
        log(f"  {name}: calibration draw {d + 1}/{len(draws)}: static int8 "
            f"quantx {out[-1][0] * 100:.2f}%, torch {out[-1][1] * 100:.2f}%")
    return out


def state_bytes(model):
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", default=["fashion_cnn", "fashion_mlp"])
    ap.add_argument("--test-images", type=int, default=10000)
    ap.add_argument("--repetitions", type=int, default=60,
                    help="timed calls per model and batch size, in 5 "
                         "alternating rounds")
    ap.add_argument("--observer", default="auto",
                    help="quantx.ptq observer kind for the activations, or "
                         "'auto': the kind whose static int8 model is most "
                         "accurate on the validation split (images held out "
                         "of training)")
    ap.add_argument("--calibration-draws", type=int, default=0,
                    help="also compare static int8 test accuracy, quantx and "
                         "PyTorch, over this many further calibration sets of "
                         "1,000 training images")
    args = ap.parse_args()
    if args.test_images % EVAL_BATCH:
        ap.error(f"--test-images must be a multiple of {EVAL_BATCH}")

    # quantx's OpenMP workers would spin 200 ms after each of its parallel
    # regions, on the cores PyTorch's calls of the next round run on; with
    # 1 ms they are asleep by then (set before the OpenMP runtime starts).
    os.environ.setdefault("KMP_BLOCKTIME", "1")
    import quantx.jit
    from quantx import models
    from quantx.evaluate import mcnemar_p
    from quantx.models import data

    torch.set_num_threads(2)
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    calib, _ = data.load_fashion_mnist("calib")
    test_x, test_y = data.load_fashion_mnist("test")
    test_x, test_y = test_x[:args.test_images], test_y[:args.test_images]
    train_x, _ = data.load_fashion_mnist("train")
    validation = data.load_fashion_mnist("val")
    load_before = os.getloadavg()[0]
    rows, figures, draw_rows = [], {}, []
    # Further calibration sets, from the training split: how much each
    # PTQ's accuracy depends on the draw.
    order = np.random.default_rng(2025).permutation(len(train_x))
    draws = [train_x[order[d * 1000:(d + 1) * 1000]]
             for d in range(args.calibration_draws)]
    modes = ["static-int8", "dynamic-int8", "weight-int4"]
    with tempfile.TemporaryDirectory(prefix="quantx-bench-ptq-") as tmp:
        for name in args.models:
            model = models.load(name)
            log(f"{name}: importing, calibrating, quantizing")
            qx = quantx_variants(name, model, calib, tmp, modes, args.observer,
                                 validation)
            figures[f"{name}_observer"] = qx["selection"]["observer"]
            for c in qx["selection"].get("candidates", []):
                figures.setdefault(f"{name}_observer_validation_accuracy", {})[
                    c["kind"]] = c["accuracy"]
                figures.setdefault(f"{name}_observer_validation_sqnr_db", {})[
                    c["kind"]] = c["output_sqnr_db"]
            th = torch_variants(model, calib)
            float_bytes = qx["float"]["bytes"]
            for variant in ["float"] + modes:
                log(f"  {name} {variant}: compiling, accuracy, latency")
                fns = {b: quantx.jit.compile(t)["forward"] for b, t in qx[variant]["texts"].items()}
                q_out = outputs(fns[EVAL_BATCH], test_x, EVAL_BATCH)
                qc = q_out.argmax(1) == test_y
                acc = float(qc.mean())
                tm = th.get(variant)
                run_torch = None
                if tm is not None:
                    run_torch = torch_callable(tm)
                    t_out = outputs(run_torch, test_x, EVAL_BATCH)
                    tc = t_out.argmax(1) == test_y
                    tacc = float(tc.mean())
                if variant == "float":
                    # The reference of fidelity: PyTorch's float model.
                    ref_out = t_out
                # Fidelity to the float model: logit SQNR and how often the
                # top class is the float model's (far less noisy than the
                # accuracy, which counts only where the label decides).
                q_agree = q_out.argmax(1) == ref_out.argmax(1)
                fidelity = {"sqnr_db": sqnr_db(ref_out, q_out),
                            "agree": float(q_agree.mean())}
                if run_torch is not None:
                    t_agree = t_out.argmax(1) == ref_out.argmax(1)
                    t_fidelity = {"sqnr_db": sqnr_db(ref_out, t_out),
                                  "agree": float(t_agree.mean())}
                # Latency: both called from Python the same way (arrays in,
                # arrays out), in alternating rounds so that both see the
                # same machine.
                lat, tlat = {}, {}
                for b in (1, 64):
                    peers = {"quantx": fns[b]}
                    if run_torch is not None:
                        peers["torch"] = run_torch
                    med = interleaved_latency(peers, test_x[:b], args.repetitions)
                    lat[b] = med["quantx"] * 1e3
                    if run_torch is not None:
                        tlat[b] = med["torch"] * 1e3
                row = {"model": name, "variant": variant, "impl": "quantx", "accuracy": acc,
                       "lat1_ms": lat[1], "lat64_ms": lat[64], "bytes": qx[variant]["bytes"],
                       **fidelity}
                rows.append(row)
                key = f"{name}_{variant.replace('-', '_')}"
                if variant != "float":
                    figures[f"{key}_logit_sqnr_db"] = fidelity["sqnr_db"]
                    figures[f"{key}_float_agreement"] = fidelity["agree"]
                if tm is not None:
                    rows.append({"model": name, "variant": variant, "impl": "torch",
                                 "accuracy": tacc, "lat1_ms": tlat[1], "lat64_ms": tlat[64],
                                 "bytes": state_bytes(tm), **t_fidelity})
                    figures[f"{key}_accuracy"] = acc
                    figures[f"{key}_torch_accuracy"] = tacc
                    figures[f"{key}_accuracy_vs_torch"] = acc - tacc
                    # Is the difference more than chance? (exact McNemar
                    # test on the images only one of the two gets right)
                    p, q_only, t_only = mcnemar_p(qc, tc)
                    figures[f"{key}_accuracy_vs_torch_p_value"] = p
                    figures[f"{key}_images_only_quantx_right"] = q_only
                    figures[f"{key}_images_only_torch_right"] = t_only
                    row["vs_torch"] = (f"{q_only}/{t_only} only-right, "
                                       f"p = {p:.2f}")
                    if variant != "float":
                        figures[f"{key}_torch_logit_sqnr_db"] = t_fidelity["sqnr_db"]
                        figures[f"{key}_torch_float_agreement"] = t_fidelity["agree"]
                        # Is quantx's top class the float model's more often
                        # than PyTorch's? (the same exact McNemar test)
                        p, q_only, t_only = mcnemar_p(q_agree, t_agree)
                        figures[f"{key}_float_agreement_vs_torch_p_value"] = p
                        figures[f"{key}_float_agreement_at_least_torch"] = bool(
                            fidelity["agree"] >= t_fidelity["agree"])
                    figures[f"{key}_b1_speedup"] = tlat[1] / lat[1]
                    figures[f"{key}_b64_speedup"] = tlat[64] / lat[64]
                else:
                    figures[f"{key}_accuracy"] = acc
                if variant != "float":
                    figures[f"{name}_{variant.replace('-', '_')}_size_ratio"] = \
                        float_bytes / qx[variant]["bytes"]
            fa = figures[f"{name}_float_accuracy"]
            sa = figures[f"{name}_static_int8_accuracy"]
            figures[f"{name}_static_int8_within_0.5_points"] = bool(fa - sa <= 0.005)
            figures[f"{name}_static_int8_accuracy_at_least_torch"] = bool(
                figures[f"{name}_static_int8_accuracy_vs_torch"] >= 0)
            figures[f"{name}_static_int8_latency_at_most_torch"] = bool(
                figures[f"{name}_static_int8_b1_speedup"] >= 1 and
                figures[f"{name}_static_int8_b64_speedup"] >= 1)
            figures[f"{name}_static_int8_size_3.5x"] = bool(
                figures[f"{name}_static_int8_size_ratio"] >= 3.5)
            if args.calibration_draws:
                res = static_over_draws(name, model, figures[f"{name}_observer"],
                                        draws, tmp, (test_x, test_y))
                q, t = np.array(res).T
                draw_rows.append((name, q, t))
                figures[f"{name}_static_int8_draws_mean_accuracy"] = float(q.mean())
                figures[f"{name}_static_int8_draws_torch_mean_accuracy"] = float(t.mean())
                figures[f"{name}_static_int8_draws_quantx_at_least_torch_count"] = int((q >= t).sum())

    print(f"PTQ on Fashion-MNIST ({args.test_images} test images, 1,000 calibration images, "
          f"observers {', '.join(figures[m + '_observer'] for m in args.models)}"
          f"{' (picked on validation images)' if args.observer == 'auto' else ''}; 2 threads; load {load_before:.2f} -> {os.getloadavg()[0]:.2f})")
    print(f"{'model':12} {'variant':13} {'impl':7} {'accuracy':>9} {'b1 ms':>9} {'b64 ms':>9} "
          f"{'weight bytes':>13} {'SQNR dB':>8} {'agree':>8}")
    for r in rows:
        print(f"{r['model']:12} {r['variant']:13} {r['impl']:7} {100 * r['accuracy']:8.2f}% "
              f"{r['lat1_ms']:9.3f} {r['lat64_ms']:9.3f} {r['bytes']:13d} "
              f"{r['sqnr_db']:8.2f} {100 * r['agree']:7.2f}%  "
              f"{r.get('vs_torch', '')}")
    print("(quantx weight bytes: the PTQ report's per-layer bytes (float layers at 4 bytes per "
          "value); torch: its serialized state dict. On quantx rows with a torch peer: the "
          "test images only quantx / only torch classifies right, and the exact McNemar "
          "p-value of the accuracy difference. SQNR dB: of the logits against PyTorch's "
          "float model's; agree: test images whose top class is the float model's)")
    if draw_rows:
        print(f"\nStatic int8 test accuracy over {args.calibration_draws} further calibration "
              "sets of 1,000 training images (quantx and torch calibrated on the same images)")
        print(f"{'model':12} {'impl':7} {'mean':>8} {'sd':>6} {'min':>8} {'max':>8}  "
              "draws quantx >= torch")
        for name, q, t in draw_rows:
            for impl, a in (("quantx", q), ("torch", t)):
                print(f"{name:12} {impl:7} {100 * a.mean():7.3f}% {100 * a.std(ddof=1) if len(a) > 1 else 0:6.3f} "
                      f"{100 * a.min():7.2f}% {100 * a.max():7.2f}%  "
                      f"{f'{int((q >= t).sum())} of {len(q)}' if impl == 'quantx' else ''}")
    figures["load_average_before"] = load_before
    figures["load_average_after"] = os.getloadavg()[0]
    print(json.dumps({"bench": "ptq", **figures}, sort_keys=True))


if __name__ == "__main__":
    main()
