#!/usr/bin/env python3
"""Golden numbers for RTN/GPTQ parity, produced by the reference implementation.

Runs IST-DASLab/gptq (gptq.py `GPTQ`, quant.py `Quantizer`) on PyTorch CPU
from a checkout given with --reference (never part of this repository) and
writes into test/data/gptq/:

  golden.json          the reference's output reconstruction error
                       ||W X^T - Q X^T||^2 and loss figure for each parity case
                       on the synthetic layer made by `make_layer` below;
  quantizer.npz        the reference Quantizer's scale/zero/dequantized output
                       on a small matrix with edge-case rows, for exact checks;
  gptq_small.npz       the reference's dequantized weights for a small layer
                       whose groups start inside blocks (group 32, block 64).

The data is regenerated from fixed seeds by python/tests/test_gptq.py with
the functions of this file (numpy only; torch is imported by main()).

Usage:
  python scripts/gen_gptq_golden.py --reference /path/to/gptq-checkout
"""

import argparse
import contextlib
import io
import json
import os
import re
import sys

import numpy as np

# --------------------------------------------------------------------------
# Reproducible data (numpy only)
# --------------------------------------------------------------------------


def normals(seed, count):
    """`count` standard normals from PCG64 raw bits and Box-Muller in float64.

    Only the bit generator's raw stream is used (it is stable across numpy
    versions, unlike the distribution methods).
    """
    pairs = (count + 1) // 2
    raw = np.random.PCG64(seed).random_raw(2 * pairs)
    u = ((raw >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    u1, u2 = u[:pairs], u[pairs:]
    radius = np.sqrt(-2.0 * np.log(u1))
    z = np.concatenate([radius * np.cos(2 * np.pi * u2),
                        radius * np.sin(2 * np.pi * u2)])
    return z[:count]


def make_layer(seed, rows, cols, tokens):
    """A synthetic linear layer with LLM-like statistics.

    W (rows x cols): Student-t (4 degrees of freedom) entries, per-row scales
    from a log-normal. X (tokens x cols): low-rank correlated activations
    plus noise, log-normal per-channel scales, about 1% outlier channels
    (x20) and two dead channels (all zero). Returns float32 (W, X).
    """
    z = normals(seed, rows * cols * 5).reshape(5, rows, cols)
    chi2 = (z[1:] ** 2).sum(axis=0) / 4.0
    t = z[0] / np.sqrt(chi2)
    row_scale = np.exp(0.3 * normals(seed + 1, rows))[:, None]
    w = 0.02 * t * row_scale

    rank = 64
    g = normals(seed + 2, tokens * rank).reshape(tokens, rank)
    mix = normals(seed + 3, rank * cols).reshape(rank, cols) / np.sqrt(rank)
    noise = normals(seed + 4, tokens * cols).reshape(tokens, cols)
    x = 0.9 * (g @ mix) + 0.3 * noise
    chan = np.exp(0.5 * normals(seed + 5, cols))
    outliers = np.arange(7, cols, 97)  # about 1% of the channels
    chan[outliers] *= 20.0
    x = x * chan[None, :]
    x[:, [3, cols // 2]] = 0.0  # dead channels
    return w.astype(np.float32), x.astype(np.float32)


def output_error(w, q, x):
    """||W X^T - Q X^T||_F^2 in float64."""
    d = (w.astype(np.float64) - q.astype(np.float64)) @ x.T.astype(np.float64)
    return float(np.sum(d * d))


# The parity layer and its cases.
PARITY_SEED = 20240611
PARITY_ROWS, PARITY_COLS, PARITY_TOKENS, PARITY_BATCH = 512, 1024, 2048, 64
PARITY_CASES = {
    # name: (bits, groupsize, sym, actorder, static_groups)
    "w4_g128": (4, 128, False, False, False),
    "w4_g128_actorder": (4, 128, False, True, False),
    "w3_perchannel": (3, -1, False, False, False),
    "w3_perchannel_actorder": (3, -1, False, True, False),
    "w4_g128_actorder_static": (4, 128, False, True, True),
    "w4_g128_sym_actorder": (4, 128, True, True, False),
    "w2_g64_actorder": (2, 64, False, True, False),
}

# The small layer compared value by value.
SMALL_SEED = 777
SMALL_ROWS, SMALL_COLS, SMALL_TOKENS, SMALL_BLOCK = 32, 160, 256, 64
SMALL_CASES = {
    "w4_g32": (4, 32, False, False, False),
    "w4_g32_actorder": (4, 32, False, True, False),
    "w4_g32_actorder_static": (4, 32, False, True, True),
    "w3_perchannel_actorder": (3, -1, True, True, False),
}

# Quantizer configurations checked for exact equality:
# (bits, perchannel, sym, mse, trits).
QUANTIZER_CASES = [
    (bits, perchannel, sym, mse, False)
    for bits in (2, 3, 4, 8)
    for perchannel in (True, False)
    for sym in (True, False)
    for mse in (False, True)
] + [(2, True, False, False, True), (2, False, True, False, True)]


def quantizer_input():
    """16 x 64 float32 with edge-case rows."""
    x = (normals(99, 16 * 64).reshape(16, 64)).astype(np.float32)
    x[0] = 0.0                      # all zero
    x[1] = 0.75                     # constant positive
    x[2] = -3.0                     # constant negative
    x[3] = np.abs(x[3])             # non-negative (the symmetric quirk)
    x[4] = -np.abs(x[4])            # non-positive
    x[5] *= np.float32(1e-30)       # tiny
    x[6] *= np.float32(1e20)        # huge (|d|^2.4 overflows in float32)
    x[7, 5] = 40.0                  # one outlier
    x[8] = np.round(x[8] * 4) / 4   # many exact ties
    return x


# --------------------------------------------------------------------------
# Running the reference
# --------------------------------------------------------------------------


def load_reference(path):
    """Imports the reference's gptq.py and quant.py from `path` (CPU only)."""
    import types

    import torch
    import torch.nn as nn

    if "transformers" not in sys.modules:
        try:
            import transformers  # noqa: F401
        except ImportError:
            # gptq.py only uses transformers.Conv1D in isinstance checks.
            stub = types.ModuleType("transformers")

            class Conv1D(nn.Module):
                pass

            stub.Conv1D = Conv1D
            sys.modules["transformers"] = stub
    # fasterquant ends with torch.cuda.synchronize(); nothing to wait for on
    # the CPU.
    torch.cuda.synchronize = lambda *args, **kwargs: None
    sys.path.insert(0, os.path.abspath(path))
    with contextlib.redirect_stdout(io.StringIO()):
        import gptq as ref_gptq
        import quant as ref_quant
    return ref_gptq, ref_quant


def run_reference_gptq(ref_gptq, ref_quant, w, x, batch, case, blocksize=128):
    """Runs add_batch over `batch`-token samples + fasterquant.

    Returns (Q, loss) with loss the figure fasterquant prints as 'error'.
    """
    import torch
    import torch.nn as nn

    bits, groupsize, sym, actorder, static = case
    rows, cols = w.shape
    layer = nn.Linear(cols, rows, bias=False)
    layer.weight.data = torch.from_numpy(w.copy())
    g = ref_gptq.GPTQ(layer)
    for t in range(0, x.shape[0], batch):
        g.add_batch(torch.from_numpy(x[t:t + batch]).unsqueeze(0), None)
    g.quantizer = ref_quant.Quantizer()
    g.quantizer.configure(bits, perchannel=True, sym=sym, mse=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        g.fasterquant(blocksize=blocksize, percdamp=0.01, groupsize=groupsize,
                      actorder=actorder, static_groups=static)
    loss = float(re.search(r"error ([-+0-9.eE]+|nan|inf)", out.getvalue())
                 .group(1))
    return layer.weight.data.numpy().copy(), loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", required=True,
                    help="checkout of IST-DASLab/gptq (gptq.py, quant.py)")
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "test", "data",
        "gptq"))
    args = ap.parse_args()

    import torch

    torch.set_num_threads(2)
    ref_gptq, ref_quant = load_reference(args.reference)
    os.makedirs(args.out, exist_ok=True)

    # Parity layer.
    w, x = make_layer(PARITY_SEED, PARITY_ROWS, PARITY_COLS, PARITY_TOKENS)
    golden = {
        "layer": {"seed": PARITY_SEED, "rows": PARITY_ROWS,
                  "cols": PARITY_COLS, "tokens": PARITY_TOKENS,
                  "batch_tokens": PARITY_BATCH, "percdamp": 0.01,
                  "blocksize": 128},
        "torch_version": torch.__version__,
        "cases": {},
    }
    for name, case in PARITY_CASES.items():
        q, loss = run_reference_gptq(ref_gptq, ref_quant, w, x, PARITY_BATCH,
                                     case)
        err = output_error(w, q, x)
        bits, groupsize, sym, actorder, static = case
        golden["cases"][name] = {
            "bits": bits, "groupsize": groupsize, "sym": sym,
            "actorder": actorder, "static_groups": static,
            "reference_error": err, "reference_loss": loss,
        }
        print(f"{name:28s} error {err:.6e} loss {loss:.6e}")
    with open(os.path.join(args.out, "golden.json"), "w") as f:
        json.dump(golden, f, indent=2, sort_keys=True)
        f.write("\n")

    # Small layer, value by value.
    w, x = make_layer(SMALL_SEED, SMALL_ROWS, SMALL_COLS, SMALL_TOKENS)
    small = {}
    for name, case in SMALL_CASES.items():
        q, loss = run_reference_gptq(ref_gptq, ref_quant, w, x, PARITY_BATCH,
                                     case, blocksize=SMALL_BLOCK)
        small[name] = q
        small[name + "_loss"] = np.float64(loss)
    np.savez_compressed(os.path.join(args.out, "gptq_small.npz"), **small)

    # Quantizer, exactly.
    xq = quantizer_input()
    outs = {}
    for i, (bits, perchannel, sym, mse, trits) in enumerate(QUANTIZER_CASES):
        qz = ref_quant.Quantizer()
        qz.configure(bits, perchannel=perchannel, sym=sym, mse=mse,
                     trits=trits)
        t = torch.from_numpy(xq.copy())
        qz.find_params(t, weight=True)
        outs[f"scale_{i}"] = qz.scale.reshape(-1).numpy().astype(np.float32)
        outs[f"zero_{i}"] = qz.zero.reshape(-1).numpy().astype(np.float32)
        # The module-level quantize() that fasterquant uses (the method
        # Quantizer.quantize returns x unchanged when some scale is 0).
        outs[f"deq_{i}"] = ref_quant.quantize(
            t, qz.scale, qz.zero, qz.maxq).numpy().astype(np.float32)
    np.savez_compressed(os.path.join(args.out, "quantizer.npz"), **outs)
    print("wrote", os.path.abspath(args.out))


if __name__ == "__main__":
    main()
