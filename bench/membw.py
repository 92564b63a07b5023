#!/usr/bin/env python3
"""DRAM read bandwidth of this machine, 1 and 2 threads.

    python bench/membw.py [--build-dir build] [--mib 512]

Runs the C++ probe bench/cpp/MemBW.cpp (target quantx-membw): each thread
sums its slice of a buffer much larger than the last-level cache with
256-bit loads; the best of several repetitions counts. Prints a table and
one JSON line {"dram_read_gbps_1t": ..., "dram_read_gbps_2t": ...}.
`measure()` is what bench/kernels_gemv.py calls for its roofline.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def probe_path(build_dir=None):
    build = build_dir or os.environ.get("QUANTX_BUILD_DIR",
                                        os.path.join(ROOT, "build"))
    path = os.path.join(build, "bench", "cpp", "quantx-membw")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} not found: build it with `ninja -C {build} quantx-membw`")
    return path


def measure(build_dir=None, mib=512, threads=2, reps=7):
    """Returns {t: GB/s} for t = 1..threads threads."""
    out = subprocess.run([probe_path(build_dir), str(mib), str(threads),
                          str(reps)], check=True, capture_output=True,
                         text=True).stdout
    data = json.loads(out)
    return {int(t): v for t, v in data["threads"].items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=None)
    ap.add_argument("--mib", type=int, default=512)
    args = ap.parse_args()
    bw = measure(args.build_dir, args.mib)
    print(f"load: {os.getloadavg()[0]:.2f}")
    print("threads  DRAM read GB/s")
    for t, v in bw.items():
        print(f"{t:7d}  {v:14.2f}")
    print(json.dumps({f"dram_read_gbps_{t}t": v for t, v in bw.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
