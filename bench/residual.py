#!/usr/bin/env python3
"""Residual networks under static int8 PTQ: quantized additions against
float ones, beside PyTorch's PTQ.

Two seeded, randomly initialised models (no training: the figures are
fidelity and speed, not accuracy):

* ``resnet``: a 3x3 stem and two ResNet basic blocks,
  relu(x + c2(relu(c1(x)))), of 32 channels at 56x56, then a 1x1 conv;
* ``mobilenet``: a strided stem and two MobileNetV2 inverted residuals
  (1x1 expansion x4, depthwise 3x3, 1x1 projection, BatchNorm, ReLU6,
  x + f(x)), a 1x1 conv, global average pooling and a Linear.

Each is calibrated on 32 normal random images (min/max observer) and
rewritten by quantx twice: with its residual additions as quantx.add
(the default) and with them kept float (``keep-float=^add``). PyTorch's
FX graph mode static PTQ (x86 oneDNN backend, default qconfig, the same
calibration images) is the peer; it quantizes the additions too. On 32
other images the script measures the SQNR of each model's output against
PyTorch's float model's, and the latency at the given batch (median of
alternating rounds, 2 threads each, as bench/ptq.py times them).

Prints a table and ends with one JSON line: per model, ``<m>_speedup``
(PyTorch int8 latency / quantx int8 latency), ``<m>_int8_add_speedup``
(quantx with float additions / with int8 ones), ``<m>_error_ratio``
(quantx's output error energy / PyTorch's) and the SQNRs.

    PYTHONPATH=build/python_packages .venv/bin/python bench/residual.py
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptq as bench_ptq  # noqa: E402  (interleaved timing, PyTorch PTQ)

from quantx import ptq  # noqa: E402
import quantx.jit  # noqa: E402


class BasicBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=1)
        self.c2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return torch.relu(x + self.c2(torch.relu(self.c1(x))))


def conv_bn(cin, cout, k=1, act=True, **kw):
    layers = [nn.Conv2d(cin, cout, k, bias=False, **kw), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([nn.ReLU6()] if act else []))


class InvertedResidual(nn.Module):
    def __init__(self, c, e):
        super().__init__()
        self.expand = conv_bn(c, c * e)
        self.dw = conv_bn(c * e, c * e, 3, padding=1, groups=c * e)
        self.proj = conv_bn(c * e, c, act=False)

    def forward(self, x):
        return x + self.proj(self.dw(self.expand(x)))


def build(name):
    torch.manual_seed(0)
    if name == "resnet":
        model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), BasicBlock(32),
                              BasicBlock(32), nn.Conv2d(32, 8, 1))
        shape = (3, 56, 56)
    else:
        model = nn.Sequential(conv_bn(3, 16, 3, padding=1, stride=2), InvertedResidual(16, 4),
                              InvertedResidual(16, 4), conv_bn(16, 32), nn.AdaptiveAvgPool2d(1),
                              nn.Flatten(), nn.Linear(32, 10))
        shape = (3, 32, 32)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval(), shape


def sqnr_db(reference, test):
    err = float(((reference - test) ** 2).sum())
    return 10 * np.log10(float((reference ** 2).sum()) / err), err


def run(name, batch, repetitions, tmp):
    model, shape = build(name)
    rng = np.random.default_rng(1)
    calib = rng.standard_normal((32,) + shape).astype(np.float32)
    test = rng.standard_normal((32,) + shape).astype(np.float32)
    with torch.no_grad():
        reference = model(torch.from_numpy(test)).numpy()
    peers, rows, adds = {}, {}, None
    for variant, keep in (("quantx int8 add", ()), ("quantx float add", ("^add",))):
        path = os.path.join(tmp, f"{name}-{len(keep)}.mlir")
        bench_ptq.log(f"{name}: quantizing ({variant})")
        rep = ptq.quantize_model(model, calib, path, batch_size=batch, kind="min_max",
                                 keep_float=keep)
        if not keep:
            adds = [(a["name"], a["status"]) for a in rep["adds"]]
        with open(path) as f:
            fn = quantx.jit.compile(f.read())["forward"]
        got = np.concatenate([fn(test[i:i + batch]) for i in range(0, len(test), batch)])
        rows[variant] = sqnr_db(reference, got)
        peers[variant] = fn
    tq = bench_ptq.torch_static(model, calib)
    peers["torch int8"] = bench_ptq.torch_callable(tq)
    got = np.concatenate([peers["torch int8"](test[i:i + batch])
                          for i in range(0, len(test), batch)])
    rows["torch int8"] = sqnr_db(reference, got)
    bench_ptq.log(f"{name}: timing at batch {batch}")
    latency = bench_ptq.interleaved_latency(peers, test[:batch], repetitions)
    return rows, latency, adds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", default=["resnet", "mobilenet"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repetitions", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(2)
    figures = {}
    table = [("model", "variant", "SQNR dB", f"b{args.batch} ms")]
    with tempfile.TemporaryDirectory(prefix="quantx-residual-") as tmp:
        for name in args.models:
            rows, latency, adds = run(name, args.batch, args.repetitions, tmp)
            for variant, (sqnr, _) in rows.items():
                table.append((name, variant, f"{sqnr:.2f}", f"{latency[variant] * 1e3:.3f}"))
            print(f"{name}: additions {adds}", flush=True)
            figures[f"{name}_sqnr_db"] = rows["quantx int8 add"][0]
            figures[f"{name}_float_add_sqnr_db"] = rows["quantx float add"][0]
            figures[f"{name}_torch_sqnr_db"] = rows["torch int8"][0]
            figures[f"{name}_error_ratio"] = rows["quantx int8 add"][1] / rows["torch int8"][1]
            figures[f"{name}_speedup"] = latency["torch int8"] / latency["quantx int8 add"]
            figures[f"{name}_int8_add_speedup"] = (latency["quantx float add"]
                                                   / latency["quantx int8 add"])
            figures[f"{name}_additions_quantized"] = all(s == "quantized" for _, s in adds)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                      for k, v in figures.items()}))


if __name__ == "__main__":
    main()
