#!/usr/bin/env python3
"""GPTQ speed and error: quantx against the reference implementation.

Runs the reference GPTQ (IST-DASLab/gptq, from the checkout given with
--reference; never part of this repository) on PyTorch CPU with
torch.set_num_threads(2), and quantx through its Python extension, on the
same layer and calibration data: a 4096 x 4096 linear layer, 4-bit, group
size 128, act-order, 128 calibration samples of 64 tokens (8192 tokens).
Times the Hessian accumulation (add_batch over all samples) and the
quantization step (fasterquant / quantize) separately, prints a table with
both output reconstruction errors ||W X^T - Q X^T||^2, and ends with one JSON
line of figures.

Usage:
  PYTHONPATH=build/python_packages python bench/gptq.py --reference PATH
"""

import argparse
import contextlib
import importlib.util
import io
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)


def load_generator():
    spec = importlib.util.spec_from_file_location(
        "gen_gptq_golden", os.path.join(SOURCE_DIR, "scripts",
                                        "gen_gptq_golden.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_data(seed, rows, cols, samples, seq):
    """Weights with heavy-ish tails and correlated activations (float32)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rows, cols), dtype=np.float32)
    w *= rng.standard_normal((rows, cols), dtype=np.float32) ** 2 * 0.5 + 0.5
    w *= np.float32(0.02) * np.exp(0.3 * rng.standard_normal(
        (rows, 1))).astype(np.float32)
    tokens = samples * seq
    rank = 64
    g = rng.standard_normal((tokens, rank), dtype=np.float32)
    mix = rng.standard_normal((rank, cols), dtype=np.float32) / np.float32(8)
    x = np.float32(0.9) * (g @ mix)
    x += np.float32(0.3) * rng.standard_normal((tokens, cols),
                                               dtype=np.float32)
    chan = np.exp(0.5 * rng.standard_normal(cols)).astype(np.float32)
    chan[7::97] *= 20
    x *= chan[None, :]
    return w, x.reshape(samples, seq, cols)


def output_error(w, q, x2d):
    """||W X^T - Q X^T||^2 (float32 GEMM, float64 sum)."""
    d = (w - q) @ x2d.T
    return float(np.sum(d.astype(np.float64) ** 2))


def run_reference(path, w, x, args):
    gen = load_generator()
    import torch
    import torch.nn as nn

    torch.set_num_threads(args.threads)
    ref_gptq, ref_quant = gen.load_reference(path)
    rows, cols = w.shape
    layer = nn.Linear(cols, rows, bias=False)
    layer.weight.data = torch.from_numpy(w.copy())
    g = ref_gptq.GPTQ(layer)
    g.quantizer = ref_quant.Quantizer()
    g.quantizer.configure(args.bits, perchannel=True, sym=False, mse=False)
    xt = torch.from_numpy(x)
    t0 = time.perf_counter()
    for s in range(x.shape[0]):
        g.add_batch(xt[s:s + 1], None)
    t1 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        g.fasterquant(blocksize=128, percdamp=0.01, groupsize=args.group_size,
                      actorder=True)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, layer.weight.data.numpy().copy()


def run_quantx(w, x, args):
    import quantx._core as core

    hess, quant = [], []
    result = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        g = core.GPTQ(w.shape[1])
        for s in range(x.shape[0]):
            g.add_batch(x[s:s + 1])
        g.flush()
        t1 = time.perf_counter()
        result = g.quantize(w, bits=args.bits, group_size=args.group_size,
                            sym=False, act_order=True)
        t2 = time.perf_counter()
        hess.append(t1 - t0)
        quant.append(t2 - t1)
        del g
    return hess, quant, result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", help="checkout of IST-DASLab/gptq")
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--group-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2,
                    help="torch threads for the reference")
    ap.add_argument("--repeat", type=int, default=3,
                    help="quantx runs (the median is reported)")
    args = ap.parse_args()
    if not args.reference:
        print("error: --reference PATH is required: a checkout of "
              "IST-DASLab/gptq (gptq.py, quant.py) to run beside quantx",
              file=sys.stderr)
        return 2
    if not os.path.isfile(os.path.join(args.reference, "gptq.py")):
        print(f"error: {args.reference} has no gptq.py; expected a checkout "
              "of IST-DASLab/gptq", file=sys.stderr)
        return 2

    w, x = make_data(1234, args.rows, args.cols, args.samples, args.seq)
    x2d = x.reshape(-1, args.cols)
    # quantx first: the reference's torch/OpenMP/OpenBLAS worker threads are
    # not alive yet, so neither side runs beside the other's idle spinners.
    load_before = os.getloadavg()[0]
    qx_hs, qx_qs, qx = run_quantx(w, x, args)
    qx_h, qx_q = statistics.median(qx_hs), statistics.median(qx_qs)
    load_between = os.getloadavg()[0]
    ref_h, ref_q, ref_w = run_reference(args.reference, w, x, args)
    load_after = os.getloadavg()[0]
    ref_err = output_error(w, ref_w, x2d)
    qx_err = output_error(w, qx["dequantized"], x2d)

    ref_total, qx_total = ref_h + ref_q, qx_h + qx_q
    print(f"GPTQ {args.rows}x{args.cols}, {args.bits}-bit, group "
          f"{args.group_size}, act-order, {args.samples}x{args.seq} tokens")
    print(f"{'':24s}{'reference':>12s}{'quantx':>12s}{'speedup':>10s}")
    for name, r, q in (("Hessian (s)", ref_h, qx_h),
                       ("quantization (s)", ref_q, qx_q),
                       ("total (s)", ref_total, qx_total)):
        print(f"{name:24s}{r:12.3f}{q:12.3f}{r / q:10.1f}x")
    print(f"{'||WX - QX||^2':24s}{ref_err:12.5g}{qx_err:12.5g}"
          f"{'ratio %.4f' % (qx_err / ref_err):>16s}")
    print("quantx runs (Hessian + quantization, s): " + ", ".join(
        "%.3f + %.3f" % hq for hq in zip(qx_hs, qx_qs)))
    print("reference: torch %s, %d threads; quantx: median of %d runs; "
          "1-min load average %.1f before quantx, %.1f before the "
          "reference, %.1f after (other jobs on the machine slow both "
          "sides)" % (__import__("torch").__version__, args.threads,
                      args.repeat, load_before, load_between, load_after))
    figures = {
        "gptq_reference_hessian_s": round(ref_h, 4),
        "gptq_reference_quant_s": round(ref_q, 4),
        "gptq_quantx_hessian_s": round(qx_h, 4),
        "gptq_quantx_quant_s": round(qx_q, 4),
        "gptq_hessian_speedup": round(ref_h / qx_h, 2),
        "gptq_quant_step_speedup": round(ref_q / qx_q, 2),
        "gptq_total_speedup": round(ref_total / qx_total, 2),
        "gptq_reference_error": ref_err,
        "gptq_quantx_error": qx_err,
        "gptq_error_ratio": round(qx_err / ref_err, 5),
        "meets_10x_target": ref_total / qx_total >= 10.0,
        "meets_error_target": qx_err / ref_err <= 1.01,
        "gptq_quantx_runs_s": [[round(h, 4), round(q, 4)]
                               for h, q in zip(qx_hs, qx_qs)],
        "load_average_before": round(load_before, 2),
        "load_average_between": round(load_between, 2),
        "load_average_after": round(load_after, 2),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
