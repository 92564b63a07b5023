#!/usr/bin/env python3
"""PTQ of the example language model: perplexity, size and latency of each
quantx mode beside PyTorch's dynamic quantization.

The model is ``charlm`` (docs/Models.md: a 2-layer Llama decoder over
characters, trained on five Jane Austen novels). quantx calibrates it on
32 windows of 255 characters of the ``calib`` text (min/max observer) and
rewrites it in static int8, dynamic int8 and weight-only int8 and int4
(groups of 32): every Linear layer is quantized, the attention's
activation products, the norms, RoPE and the residual stream stay float
(docs/PTQ.md). PyTorch's peer is ``torch.ao.quantization.quantize_dynamic``
of the Linear layers (qint8, the x86 oneDNN backend), the PTQ PyTorch
offers for such a model: its FX static PTQ cannot trace it.

Perplexity: on "Persuasion", never trained on (the quick subset of
docs/Models.md, 128 windows of 256 characters, unless --full), each
window's characters after the first predicted from those before, as
``quantx.models.evaluate`` defines it. Latency: one window of 255
characters (a prompt) and a batch of 16, both sides called from Python
with numpy arrays, in alternating rounds (medians; 2 threads each), as
bench/ptq.py times them. Size: the bytes of the weights (quantized layers
packed, with their scales; the rest f32) against PyTorch's serialized
state dict.

Prints a table and ends with one JSON line: per mode ``<mode>_ppl``,
``<mode>_bytes``, ``<mode>_b1_ms``/``b16_ms``; PyTorch's figures;
``dynamic_int8_speedup_b1``/``_b16`` (PyTorch dynamic / quantx dynamic
latency), ``dynamic_int8_ppl_error_ratio`` (quantx's perplexity increase
over float / PyTorch's) and ``static_int8_ppl_error_ratio`` (the same of
quantx's static int8 against PyTorch's dynamic).

    PYTHONPATH=build/python_packages .venv/bin/python bench/ptq_lm.py
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptq as bench_ptq  # noqa: E402  (interleaved timing, PyTorch helpers)

from quantx import ptq  # noqa: E402
from quantx.evaluate import mean_nll  # noqa: E402
import quantx.jit  # noqa: E402

MODES = {"static-int8": 0, "dynamic-int8": 0, "weight-int8": 0, "weight-int4": 32}
BATCH = 16


def perplexity(fn, windows):
    """Perplexity of `fn` (ids [B, T - 1] -> logits) over full windows [N, T]
    in batches of BATCH (a last partial batch is padded with copies of its
    first window, whose predictions are not counted)."""
    total, count = 0.0, 0
    for i in range(0, len(windows), BATCH):
        w = windows[i:i + BATCH]
        n = len(w)
        if n < BATCH:
            w = np.concatenate([w, np.repeat(w[:1], BATCH - n, axis=0)])
        logits = fn(np.ascontiguousarray(w[:, :-1]))[:n]
        total += mean_nll(logits, w[:n, 1:]) * w[:n, 1:].size
        count += w[:n, 1:].size
    return math.exp(total / count)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modes", nargs="*", default=list(MODES))
    ap.add_argument("--full", action="store_true",
                    help="all of Persuasion (3,600 windows) instead of the quick subset")
    ap.add_argument("--windows", type=int, default=0,
                    help="only the first N windows (a quick check)")
    ap.add_argument("--repetitions", type=int, default=20,
                    help="timed calls per model and batch size, in 5 alternating rounds")
    args = ap.parse_args()
    os.environ.setdefault("KMP_BLOCKTIME", "1")
    from quantx import importer, models
    from quantx.models import data, evaluate
    torch.set_num_threads(2)
    lm, tok = models.load("charlm")
    T = lm.config.max_seq_len
    calib_ids = np.array(tok.encode(data.load_austen("calib")), dtype=np.int64)
    calib = calib_ids[:32 * T].reshape(32, T)[:, :T - 1].copy()
    text = data.load_austen("test")
    if not args.full:
        text = text[:evaluate.PERSUASION_QUICK_CHARS]
    windows = np.array([w for w in evaluate.windows(tok.encode(text), T) if len(w) == T],
                       dtype=np.int64)
    if args.windows:
        windows = windows[:args.windows]
    prompt = np.ascontiguousarray(windows[:1, :-1])
    batch = np.ascontiguousarray(windows[:BATCH, :-1])

    fns, ppl, size = {}, {}, {}
    tdyn = torch.ao.quantization.quantize_dynamic(lm, {torch.nn.Linear}, dtype=torch.qint8)
    fns["torch float"] = bench_ptq.torch_callable(lm)
    fns["torch dynamic-int8"] = bench_ptq.torch_callable(tdyn)
    size["torch float"] = bench_ptq.state_bytes(lm)
    size["torch dynamic-int8"] = bench_ptq.state_bytes(tdyn)
    float_bytes = sum(p.numel() * 4 for p in lm.parameters())
    with tempfile.TemporaryDirectory(prefix="quantx-bench-lm-") as tmp:
        paths, compiled = {}, {}
        for b in (1, 8, BATCH):  # 8: the calibration batch
            paths[b] = os.path.join(tmp, f"float-b{b}.mlir")
            with open(paths[b], "w") as f:
                f.write(importer.import_module(lm, (torch.zeros(b, T - 1, dtype=torch.int64),)))
        for b in (1, BATCH):
            compiled[("float", b)] = quantx.jit.compile(open(paths[b]).read())["forward"]
        size["quantx float"] = float_bytes
        t0 = time.perf_counter()
        stats = os.path.join(tmp, "stats.json")
        ptq.calibrate(paths[8], [calib[i:i + 8] for i in range(0, len(calib), 8)], stats,
                      entry="forward")
        print(f"calibrated on {len(calib)} windows in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr, flush=True)
        for mode in args.modes:
            t0 = time.perf_counter()
            for b in (1, BATCH):
                path = os.path.join(tmp, f"{mode}-b{b}.mlir")
                rep = ptq.quantize(paths[b], stats if mode == "static-int8" else None, path,
                                   mode=mode, group_size=MODES[mode])
                compiled[(mode, b)] = quantx.jit.compile(open(path).read())["forward"]
            quantized = [l for l in rep["layers"] if l["status"] == "quantized"]
            size[f"quantx {mode}"] = (float_bytes - sum(l["bytes_before"] for l in quantized)
                                      + sum(l["bytes_after"] for l in quantized))
            print(f"quantx {mode}: {len(quantized)} layers quantized and compiled in "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        for (mode, b), fn in compiled.items():
            if b == BATCH:
                fns[f"quantx {mode}"] = fn
        for name, fn in fns.items():
            t0 = time.perf_counter()
            ppl[name] = perplexity(fn, windows)
            print(f"{name}: perplexity {ppl[name]:.4f} ({time.perf_counter() - t0:.1f} s)",
                  file=sys.stderr, flush=True)
        lat = {}
        for b, x in ((1, prompt), (BATCH, batch)):
            peers = {"torch float": fns["torch float"],
                     "torch dynamic-int8": fns["torch dynamic-int8"]}
            for (mode, bb), fn in compiled.items():
                if bb == b:
                    peers[f"quantx {mode}"] = fn
            for k, v in bench_ptq.interleaved_latency(peers, x, args.repetitions).items():
                lat[(k, b)] = v * 1e3
            print(f"timed batch {b}", file=sys.stderr, flush=True)

    names = list(fns)
    header = ("model", "perplexity", "vs float", "weight bytes", "b1 ms", f"b{BATCH} ms")
    rows = []
    for n in names:
        base = ppl["torch float"]
        rows.append((n, f"{ppl[n]:.4f}", f"{(ppl[n] / base - 1) * 100:+.2f}%",
                     str(size[n]), f"{lat[(n, 1)]:.2f}", f"{lat[(n, BATCH)]:.2f}"))
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    print(f"charlm on {'all of' if args.full else 'the quick subset of'} Persuasion "
          f"({len(windows)} windows of {T}); latency: 1 and {BATCH} windows of {T - 1} "
          "characters, 2 threads")
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))

    out = {"bench": "ptq_lm", "windows": int(len(windows)),
           "float_ppl": ppl["quantx float"], "torch_float_ppl": ppl["torch float"],
           "torch_dynamic_int8_ppl": ppl["torch dynamic-int8"],
           "torch_dynamic_int8_bytes": size["torch dynamic-int8"],
           "torch_dynamic_int8_b1_ms": lat[("torch dynamic-int8", 1)],
           f"torch_dynamic_int8_b{BATCH}_ms": lat[("torch dynamic-int8", BATCH)]}
    torch_increase = ppl["torch dynamic-int8"] - ppl["torch float"]
    for mode in ["float"] + args.modes:
        key = mode.replace("-", "_")
        out[f"{key}_ppl"] = ppl[f"quantx {mode}"]
        out[f"{key}_bytes"] = size[f"quantx {mode}"]
        out[f"{key}_b1_ms"] = lat[(f"quantx {mode}", 1)]
        out[f"{key}_b{BATCH}_ms"] = lat[(f"quantx {mode}", BATCH)]
    if "dynamic-int8" in args.modes:
        out["dynamic_int8_speedup_b1"] = lat[("torch dynamic-int8", 1)] / lat[("quantx dynamic-int8", 1)]
        out[f"dynamic_int8_speedup_b{BATCH}"] = (lat[("torch dynamic-int8", BATCH)]
                                                 / lat[("quantx dynamic-int8", BATCH)])
    for mode in ("dynamic-int8", "static-int8"):
        if mode in args.modes and torch_increase > 0:
            out[f"{mode.replace('-', '_')}_ppl_error_ratio"] = (
                (ppl[f"quantx {mode}"] - ppl["torch float"]) / torch_increase)
    print(json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
