#!/usr/bin/env python3
"""QuantX's main job on an embedded example.

1. Imports an upstream-`quant` layer into the quantx dialect with quantx-opt
   and checks that converting back reproduces it exactly.
2. Quantizes the weight of an example linear layer (4096 inputs, 512
   outputs, heavy-tailed weights, activations with a few outlier channels;
   all made from a fixed seed) with the numeric core: every GGUF block
   codec, and 4-bit group-128 RTN, GPTQ (act-order) and AWQ (scale + clip
   search) calibrated on 256 tokens. Reports size, compression and the
   output error ||WX - W'X|| / ||WX|| on 256 held-out tokens.
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np

import quantx
from quantx import _core

HERE = os.path.dirname(os.path.abspath(__file__))


def run_quantx_opt(build_dir: str) -> None:
    opt = os.path.join(build_dir, "bin", "quantx-opt")
    src = os.path.join(HERE, "upstream_quant.mlir")
    print("== quantx-opt -convert-quant-to-quantx examples/upstream_quant.mlir")
    imported = subprocess.run([opt, src, "-convert-quant-to-quantx"],
                              check=True, capture_output=True, text=True).stdout
    print(imported)
    original = subprocess.run([opt, src], check=True, capture_output=True,
                              text=True).stdout
    back = subprocess.run([opt, "-convert-quantx-to-quant"], input=imported,
                          check=True, capture_output=True, text=True).stdout
    same = back == original
    print(f"round trip quant -> quantx -> quant identical: {same}\n")
    if not same:
        sys.exit("error: the interop round trip changed the module")


def example_layer(seed: int = 0):
    """Weight, calibration tokens and held-out tokens of the example layer."""
    rng = np.random.default_rng(seed)
    n_out, n_in, tokens = 512, 4096, 512
    w = (rng.standard_t(df=4, size=(n_out, n_in)) * 0.02).astype(np.float32)
    # Correlated activations: a low-rank part plus noise, and outlier channels.
    basis = rng.standard_normal((64, n_in)).astype(np.float32)
    x = (rng.standard_normal((tokens, 64)).astype(np.float32) @ basis * 0.3
         + rng.standard_normal((tokens, n_in)).astype(np.float32))
    x[:, rng.choice(n_in, 16, replace=False)] *= 20.0
    return w, x[:256].copy(), x[256:].copy()


def weight_only_methods(w, x_cal):
    """4-bit, group-128 weights from RTN, GPTQ and AWQ: (name, W', bytes, ms)."""
    n_out, n_in = w.shape
    # Packed 4-bit codes plus an fp16 scale and a 4-bit zero point per group.
    nbytes = n_out * n_in // 2 + n_out * (n_in // 128) * (2 + 1)
    out = []
    t0 = time.perf_counter()
    rtn = _core.rtn_quantize(w, 4, group_size=128, sym=False)
    t1 = time.perf_counter()
    out.append(("rtn-4b-g128", rtn["dequantized"], nbytes, (t1 - t0) * 1e3))
    gptq = _core.GPTQ(n_in)
    gptq.add_batch(x_cal)
    q = gptq.quantize(w, bits=4, group_size=128, act_order=True)
    t2 = time.perf_counter()
    out.append(("gptq-4b-g128", q["dequantized"], nbytes, (t2 - t1) * 1e3))
    search = _core.awq_search_scale([w], x_cal, None, bits=4, group_size=128)
    s = search["scales"]
    clip = _core.awq_search_clip(search["scaled_weights"][0], x_cal / s,
                                 bits=4, group_size=128)
    w_awq = _core.awq_pseudo_quantize(clip["weight"], 4, 128, True) / s
    t3 = time.perf_counter()
    out.append(("awq-4b-g128", w_awq.astype(np.float32), nbytes, (t3 - t2) * 1e3))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    args = ap.parse_args()
    run_quantx_opt(args.build_dir)

    w, x_cal, x = example_layer()
    ref = x @ w.T
    ref_norm = float(np.linalg.norm(ref))
    print(f"== example layer: W {w.shape[0]}x{w.shape[1]} f32 "
          f"({w.nbytes / 2**20:.2f} MiB), {x.shape[0]} held-out tokens")
    print(f"{'method':<14}{'bytes':>12}{'bits/w':>9}{'x smaller':>11}"
          f"{'rel. output error':>20}{'ms':>9}")
    rows = []
    for t in ["f16", "bf16", "q8_0", "q6_K", "q5_K", "q5_1", "q5_0", "q4_K",
              "q4_1", "q4_0", "q3_K", "q2_K"]:
        start = time.perf_counter()
        packed = _core.gguf_quantize(w, t)
        w_hat = _core.gguf_dequantize(packed, t, w.shape)
        ms = (time.perf_counter() - start) * 1e3
        err = float(np.linalg.norm(ref - x @ w_hat.T)) / ref_norm
        rows.append((t, packed.nbytes, err))
        print(f"{t:<14}{packed.nbytes:>12}{8 * packed.nbytes / w.size:>9.3f}"
              f"{w.nbytes / packed.nbytes:>11.2f}{err:>20.3e}{ms:>9.1f}")
    for name, w_hat, nbytes, ms in weight_only_methods(w, x_cal):
        err = float(np.linalg.norm(ref - x @ w_hat.T)) / ref_norm
        rows.append((name, nbytes, err))
        print(f"{name:<14}{nbytes:>12}{8 * nbytes / w.size:>9.3f}"
              f"{w.nbytes / nbytes:>11.2f}{err:>20.3e}{ms:>9.1f}")
    # The error must grow as bits shrink within each family: a sanity check
    # that the example actually measures something.
    errs = dict((t, e) for t, _, e in rows)
    ok = errs["q8_0"] < errs["q4_0"] and errs["q6_K"] < errs["q4_K"] < errs["q2_K"]
    print(f"\nerror ordering consistent with bit widths: {ok}")
    # Calibrated methods must beat plain round-to-nearest at the same size.
    calibrated_wins = (errs["gptq-4b-g128"] < errs["rtn-4b-g128"] and
                       errs["awq-4b-g128"] < errs["rtn-4b-g128"])
    print(f"GPTQ and AWQ beat RTN on held-out tokens: {calibrated_wins}")
    ok = ok and calibrated_wins
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
