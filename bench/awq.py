#!/usr/bin/env python3
"""AWQ scale + clip search on a 512-dim Llama block: quantx against the
reference (mit-han-lab/llm-awq on PyTorch CPU), in the same run.

    PYTHONPATH=build/python_packages python bench/awq.py --reference PATH

PATH is a checkout of mit-han-lab/llm-awq (never committed here); the
reference needs torch and transformers==4.46.0 (python/requirements-dev.txt).
Times cover the search only (scale search, folding, clip search, clipping),
for both sides, from the same cached linear inputs. Errors are the block
output MSE after quantizing every linear. quantx runs three times and the
fastest run counts; the reference runs once per configuration.

Prints a table and ends with one JSON line: awq_speedup (reference time /
quantx time, 4-bit g128), awq_error_ratio (quantx block MSE / reference's),
meets_10x_target.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# This file's folder would make `import awq` find this script instead of
# the reference's package.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scripts"))


def main():
    ap = argparse.ArgumentParser(description="AWQ search: quantx vs llm-awq")
    ap.add_argument("--reference", help="checkout of mit-han-lab/llm-awq")
    ap.add_argument("--build-dir", default=None,
                    help="build tree whose python_packages holds quantx")
    ap.add_argument("--configs", default="4:128,3:128",
                    help="bits:group list (default 4:128,3:128)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if not args.reference or not os.path.isdir(
            os.path.join(args.reference, "awq", "quantize")):
        print("bench/awq.py: --reference PATH to a checkout of "
              "mit-han-lab/llm-awq is required (the peer must run in the "
              "same run)", file=sys.stderr)
        return 2
    if args.build_dir:
        sys.path.insert(0, os.path.join(args.build_dir, "python_packages"))
    import numpy as np  # noqa: F401
    import torch
    import gen_awq_golden as gen
    from quantx import _core as core

    p = gen.make_block()
    _, feats = gen.block_forward(p)
    rows = []
    for item in args.configs.split(","):
        bits, group = (int(v) for v in item.split(":"))
        ref_final, ref_info = gen.run_reference(args.reference, p, bits, group)
        ref_mse, _ = gen.evaluate(p, ref_final, feats)
        best = None
        for _ in range(max(1, args.repeats)):
            q_final, q_info = gen.run_quantx(core, p, bits, group)
            if best is None or q_info["seconds"] < best[1]["seconds"]:
                best = (q_final, q_info)
        q_final, q_info = best
        q_mse, _ = gen.evaluate(p, q_final, feats)
        py_final, py_info = gen.run_quantx(core, p, bits, group,
                                           python_forward=True)
        py_mse, _ = gen.evaluate(p, py_final, feats)
        rows.append({"bits": bits, "group": group,
                     "ref_s": ref_info["seconds"],
                     "ref_scale_s": ref_info["scale_seconds"],
                     "ref_clip_s": ref_info["clip_seconds"],
                     "ref_threads": ref_info["threads"],
                     "qx_s": q_info["seconds"], "qx_py_s": py_info["seconds"],
                     "ref_mse": ref_mse, "qx_mse": q_mse, "qx_py_mse": py_mse})

    print(f"AWQ search on a Llama block (hidden {gen.HIDDEN}, "
          f"{gen.HEADS}x{gen.HEAD_DIM} heads, FFN {gen.FFN}, "
          f"{gen.BATCH}x{gen.SEQ} tokens); torch {torch.__version__} "
          f"threads {rows[0]['ref_threads']}, quantx threads "
          f"{os.environ.get('QUANTX_NUM_THREADS', os.cpu_count())}")
    hdr = (f"{'config':>8} {'ref s':>8} {'(scale':>7} {'clip)':>7} "
           f"{'quantx s':>9} {'qx+py fwd s':>12} {'speedup':>8} "
           f"{'ref MSE':>10} {'quantx MSE':>11} {'ratio':>7}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{'w%dg%d' % (r['bits'], r['group']):>8} {r['ref_s']:8.2f} "
              f"{r['ref_scale_s']:7.2f} {r['ref_clip_s']:7.2f} "
              f"{r['qx_s']:9.3f} {r['qx_py_s']:12.3f} "
              f"{r['ref_s'] / r['qx_s']:8.1f} {r['ref_mse']:10.6f} "
              f"{r['qx_mse']:11.6f} {r['qx_mse'] / r['ref_mse']:7.4f}")
    print("qx+py fwd: quantx's search with the attention/MLP forwards as "
          "Python (numpy) callables instead of the built-in ones.")
    head = rows[0]
    speedup = head["ref_s"] / head["qx_s"]
    out = {"awq_speedup": round(speedup, 2),
           "awq_error_ratio": round(head["qx_mse"] / head["ref_mse"], 5),
           "awq_python_forward_speedup":
               round(head["ref_s"] / head["qx_py_s"], 2),
           "awq_reference_seconds": round(head["ref_s"], 3),
           "awq_quantx_seconds": round(head["qx_s"], 4),
           "awq_error_ratios": {f"w{r['bits']}g{r['group']}":
                                round(r["qx_mse"] / r["ref_mse"], 5)
                                for r in rows},
           "meets_10x_target": bool(speedup >= 10.0),
           "meets_error_target": all(r["qx_mse"] <= 1.01 * r["ref_mse"]
                                     for r in rows)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
