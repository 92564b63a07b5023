#!/usr/bin/env python3
"""Grouped convolutions in static int8: quantx's lowering (one im2col
product per group from 3 input channels per group, the direct form below)
against the direct form alone and PyTorch's PTQ, in one run.

The model is one 3x3 convolution of 32 channels at 28x28 with 1, 2, 4, 8,
16 or 32 groups and a ReLU, seeded random weights (its input quantized and
its output dequantized in the model, on both sides). Each is calibrated on
32 images (|normal|, min/max) and rewritten to static int8 by quantx; the
same quantized module is also lowered with ``conv-im2col=false`` (the
convolution as one contraction over (c, kh, kw), the reference form that
grouped convolutions took before). PyTorch's FX graph mode static PTQ
(x86 oneDNN backend, the same calibration images) is the peer. Latency at
batch 16: median of alternating rounds, 2 threads each, as bench/ptq.py
times them. The two quantx lowerings must agree bit for bit.

Prints a table and ends with one JSON line: per group count g,
``g<g>_speedup`` (PyTorch / quantx), ``g<g>_lowering_speedup`` (direct
form / quantx's lowering) and ``g<g>_bit_exact``.

    PYTHONPATH=build/python_packages .venv/bin/python bench/grouped_conv.py
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptq as bench_ptq  # noqa: E402  (interleaved timing, PyTorch PTQ)

from quantx import ptq  # noqa: E402
import quantx.jit  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--groups", type=int, nargs="*", default=[1, 2, 4, 8, 16, 32])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repetitions", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(2)
    x = np.abs(np.random.default_rng(0).standard_normal((32, 32, 28, 28))).astype(np.float32)
    batch = x[:args.batch]
    figures = {}
    table = [("groups", "quantx ms", "direct ms", "torch ms", "bit exact")]
    with tempfile.TemporaryDirectory(prefix="quantx-grouped-") as tmp:
        for g in args.groups:
            torch.manual_seed(0)
            model = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, groups=g),
                                  nn.ReLU()).eval()
            path = os.path.join(tmp, f"g{g}.mlir")
            direct = os.path.join(tmp, f"g{g}-direct.mlir")
            bench_ptq.log(f"groups {g}: quantizing")
            ptq.quantize_model(model, x, path, batch_size=args.batch, kind="min_max")
            subprocess.run([ptq._tool("quantx-opt"), path,
                            "-convert-quantx-to-linalg=conv-im2col=false", "-o", direct],
                           check=True)
            with open(path) as f:
                fq = quantx.jit.compile(f.read())["forward"]
            with open(direct) as f:
                fd = quantx.jit.compile(f.read())["forward"]
            exact = bool(np.array_equal(fq(batch), fd(batch)))
            peers = {"quantx": fq, "direct": fd,
                     "torch": bench_ptq.torch_callable(bench_ptq.torch_static(model, x))}
            bench_ptq.log(f"groups {g}: timing")
            t = bench_ptq.interleaved_latency(peers, batch, args.repetitions)
            table.append((str(g), f"{t['quantx'] * 1e3:.3f}", f"{t['direct'] * 1e3:.3f}",
                          f"{t['torch'] * 1e3:.3f}", str(exact)))
            figures[f"g{g}_speedup"] = round(t["torch"] / t["quantx"], 4)
            figures[f"g{g}_lowering_speedup"] = round(t["direct"] / t["quantx"], 4)
            figures[f"g{g}_bit_exact"] = exact
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
