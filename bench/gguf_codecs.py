#!/usr/bin/env python3
"""Benchmark quantx's GGUF codecs beside their peers, in one run.

Peers: the `gguf` package's numpy quantizers/dequantizers, and ggml itself
(ggml_quantize_chunk / type traits' to_float from the libggml-base.so of
llama-cpp-python, through ctypes, when that package is installed). All sides
run single-threaded (quantx via QUANTX_NUM_THREADS=1 unless --threads says
otherwise), on the same float32 matrix, and the benchmark checks that quantx's
bytes equal ggml's on it. Throughput is MB (1e6 bytes) of float32 per second.

Prints a table, then one JSON line with e.g. q4_0_quantize_MBps,
q4_0_quantize_speedup (vs gguf-py), q4_0_quantize_speedup_vs_ggml, and
meets_codec_speed_targets (Q4_0/Q8_0 quantize >= 300 MB/s and dequantize
>= 2000 MB/s per core).

Usage: PYTHONPATH=build/python_packages python bench/gguf_codecs.py
       python bench/gguf_codecs.py --build-dir build-gguf [--rows 256]
"""

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPES = {"f16": 1, "bf16": 30, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8,
         "q2_K": 10, "q3_K": 11, "q4_K": 12, "q5_K": 13, "q6_K": 14}
TARGET_QUANTIZE_MBPS = 300.0
TARGET_DEQUANTIZE_MBPS = 2000.0


def best_time(fn, min_total=0.3, max_reps=20):
    """Best wall time of fn() over repetitions (at least 2, ~min_total s)."""
    best = float("inf")
    total = 0.0
    reps = 0
    while reps < 2 or (total < min_total and reps < max_reps):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        total += dt
        reps += 1
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=None,
                    help="quantx build folder (its python_packages is put on sys.path)")
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=1, help="quantx threads (default 1)")
    ap.add_argument("--types", default=",".join(TYPES))
    args = ap.parse_args()

    os.environ["QUANTX_NUM_THREADS"] = str(args.threads)
    if args.build_dir:
        sys.path.insert(0, os.path.join(os.path.abspath(args.build_dir), "python_packages"))
    import quantx
    core = quantx._core

    try:
        import gguf
        from gguf import quants
    except ImportError:
        gguf = None
    ggml = None
    try:
        sys.path.insert(0, os.path.join(ROOT, "scripts"))
        from gen_gguf_vectors import GGML
        ggml = GGML()
    except (ImportError, SystemExit, OSError) as e:
        print(f"ggml peer unavailable: {e}", file=sys.stderr)

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (args.rows, args.cols)).astype(np.float32)
    mb = x.nbytes / 1e6
    results = {}
    identical = True
    header = (f"{'type':6s} {'op':10s} {'quantx':>10s} {'gguf-py':>10s} {'ggml':>10s} "
              f"{'vs gguf-py':>10s} {'vs ggml':>8s}")
    print(f"{args.rows}x{args.cols} float32 ({mb:.1f} MB), quantx threads={args.threads}, "
          f"MB/s of float32")
    print(header)
    print("-" * len(header))

    def fmt(v):
        return f"{v:10.1f}" if v else f"{'-':>10s}"

    for name in args.types.split(","):
        tid = TYPES[name]
        q = core.gguf_quantize(x, name)
        row = {}
        # quantize
        row["q_qx"] = mb / best_time(lambda: core.gguf_quantize(x, name))
        row["q_py"] = row["q_gg"] = None
        if gguf is not None:
            qt = gguf.GGMLQuantizationType[name.upper()]
            try:
                with np.errstate(all="ignore"):
                    ref = quants.quantize(x, qt)
                row["q_py"] = mb / best_time(lambda: quants.quantize(x, qt), min_total=0.1,
                                             max_reps=3)
            except NotImplementedError:
                pass
        if ggml is not None:
            gq = ggml.quantize(tid, x)
            identical &= bool(np.array_equal(gq, q))
            row["q_gg"] = mb / best_time(lambda: ggml.quantize(tid, x), min_total=0.1,
                                         max_reps=5)
        # dequantize
        row["d_qx"] = mb / best_time(lambda: core.gguf_dequantize(q, name, list(x.shape)))
        row["d_py"] = row["d_gg"] = None
        if gguf is not None:
            qt = gguf.GGMLQuantizationType[name.upper()]
            row["d_py"] = mb / best_time(lambda: quants.dequantize(q, qt), min_total=0.1,
                                         max_reps=3)
        if ggml is not None:
            y = core.gguf_dequantize(q, name, list(x.shape))
            gy = ggml.dequantize(tid, q, x.shape)
            identical &= bool(np.array_equal(y.view(np.uint32), gy.view(np.uint32)))
            row["d_gg"] = mb / best_time(lambda: ggml.dequantize(tid, q, x.shape))

        for op, key in (("quantize", "q"), ("dequantize", "d")):
            qx, py, gg = row[f"{key}_qx"], row[f"{key}_py"], row[f"{key}_gg"]
            sp_py = qx / py if py else None
            sp_gg = qx / gg if gg else None
            print(f"{name:6s} {op:10s} {fmt(qx)} {fmt(py)} {fmt(gg)} "
                  f"{(f'{sp_py:9.1f}x' if sp_py else '-'):>10s} "
                  f"{(f'{sp_gg:7.2f}x' if sp_gg else '-'):>8s}")
            results[f"{name}_{op}_MBps"] = round(qx, 1)
            if py:
                results[f"{name}_{op}_gguf_py_MBps"] = round(py, 1)
                results[f"{name}_{op}_speedup"] = round(sp_py, 2)
            if gg:
                results[f"{name}_{op}_ggml_MBps"] = round(gg, 1)
                results[f"{name}_{op}_speedup_vs_ggml"] = round(sp_gg, 2)

    meets = all(results.get(f"{t}_quantize_MBps", 0) >= TARGET_QUANTIZE_MBPS and
                results.get(f"{t}_dequantize_MBps", 0) >= TARGET_DEQUANTIZE_MBPS
                for t in ("q4_0", "q8_0"))
    results["quantx_threads"] = args.threads
    results["meets_codec_speed_targets"] = bool(meets)
    if ggml is not None:
        results["byte_identical_to_ggml"] = bool(identical)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
