#!/usr/bin/env python3
"""Bias correction: how much closer to float it brings each PTQ mode of the
example models, beside PyTorch's PTQ.

For ``fashion_cnn`` and ``fashion_mlp`` (docs/Models.md), calibrated on the
1,000 images of the ``calib`` split (min/max observer), quantx rewrites
each mode (static int8, dynamic int8, weight-only int4 in groups of 16)
twice: without and with ``bias-correction``. PyTorch's static PTQ (FX,
x86 oneDNN backend, default qconfig, the same calibration images) and
its dynamic quantization of the Linear layers are the peers. On the 4,000
``val`` images (training-set images the models were not trained on; the
test images stay untouched) it measures each model's logits against the
float model's: SQNR, the mean error per class (|mean over images|, averaged
over the classes: the bias the correction targets), and the accuracy.

Prints a table and ends with one JSON line: per model and mode, the SQNRs
(``<m>_<mode>_sqnr_db``, ``..._bc_sqnr_db``, ``..._torch_sqnr_db`` where
PyTorch has the mode), ``<m>_<mode>_bc_error_ratio`` (mean logit error
with the correction / without), ``<m>_<mode>_bc_error_ratio_vs_torch``
(quantx corrected / PyTorch) and the accuracies.

    PYTHONPATH=build/python_packages .venv/bin/python bench/bias_correction.py
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptq as bench_ptq  # noqa: E402  (PyTorch's PTQ of the same models)

from quantx import ptq  # noqa: E402
import quantx.jit  # noqa: E402

BATCH = 500
MODES = {"static-int8": 0, "dynamic-int8": 0, "weight-int4": 16}


def logits(fn, x):
    return np.concatenate([fn(x[i:i + BATCH]) for i in range(0, len(x), BATCH)])


def figures_of(ref, out, labels):
    return {"sqnr_db": ptq.sqnr_db(ref, out),
            "mean_error": float(np.abs((out.astype(np.float64) - ref).mean(axis=0)).mean()),
            "accuracy": float(np.mean(out.argmax(axis=1) == labels))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", default=["fashion_mlp", "fashion_cnn"])
    ap.add_argument("--images", type=int, default=4000,
                    help="validation images to measure on (a multiple of 500)")
    args = ap.parse_args()
    if args.images % BATCH:
        ap.error(f"--images must be a multiple of {BATCH}")
    from quantx import models
    from quantx.models import data
    torch.set_num_threads(2)
    calib, _ = data.load_fashion_mnist("calib")
    val_x, val_y = data.load_fashion_mnist("val")
    val_x, val_y = val_x[:args.images], val_y[:args.images]
    rows, out = [], {"bench": "bias_correction"}
    with tempfile.TemporaryDirectory(prefix="quantx-bench-bc-") as tmp:
        for name in args.models:
            model = models.load(name)
            peers = bench_ptq.torch_variants(model, calib)
            ref = logits(bench_ptq.torch_callable(peers["float"]), val_x)
            for mode, group in MODES.items():
                got = {}
                for bc in (False, True):
                    t0 = time.perf_counter()
                    path = os.path.join(tmp, f"{name}-{mode}-{bc}.mlir")
                    rep = ptq.quantize_model(model, calib, path, mode=mode,
                                             group_size=group, batch_size=BATCH,
                                             bias_correction=bc)
                    fn = quantx.jit.compile(open(path).read())["forward"]
                    got[bc] = figures_of(ref, logits(fn, val_x), val_y)
                    if bc:
                        got[bc]["largest_shift"] = max(
                            l.get("bias_correction", 0.0) for l in rep["layers"])
                    print(f"{name} {mode} bias correction {'on' if bc else 'off'}: "
                          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
                peer = peers.get(mode)
                torch_fig = (figures_of(ref, logits(bench_ptq.torch_callable(peer), val_x),
                                        val_y) if peer is not None else None)
                key = f"{name}_{mode.replace('-', '_')}"
                out[f"{key}_sqnr_db"] = got[False]["sqnr_db"]
                out[f"{key}_bc_sqnr_db"] = got[True]["sqnr_db"]
                out[f"{key}_accuracy"] = got[False]["accuracy"]
                out[f"{key}_bc_accuracy"] = got[True]["accuracy"]
                out[f"{key}_bc_error_ratio"] = got[True]["mean_error"] / got[False]["mean_error"]
                out[f"{key}_bc_largest_shift"] = got[True]["largest_shift"]
                if torch_fig:
                    out[f"{key}_torch_sqnr_db"] = torch_fig["sqnr_db"]
                    out[f"{key}_torch_accuracy"] = torch_fig["accuracy"]
                    out[f"{key}_bc_error_ratio_vs_torch"] = (
                        got[True]["mean_error"] / torch_fig["mean_error"])
                cells = lambda f: (f"{f['sqnr_db']:.2f}", f"{f['mean_error']:.4f}",
                                   f"{f['accuracy'] * 100:.3f}%")
                rows.append((name, mode, *cells(got[False]), *cells(got[True]),
                             *(cells(torch_fig) if torch_fig else ("-", "-", "-"))))
    header = ("model", "mode", "SQNR dB", "mean err", "accuracy",
              "bc SQNR dB", "bc mean err", "bc accuracy",
              "torch SQNR dB", "torch mean err", "torch accuracy")
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    print(f"Logits against the float model on {args.images} val images "
          "(calibration: 1,000 calib images, min/max; bc: bias correction)")
    for r in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print(json.dumps({k: round(v, 5) if isinstance(v, float) else v
                      for k, v in out.items()}))


if __name__ == "__main__":
    main()
