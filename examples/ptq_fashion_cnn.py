#!/usr/bin/env python3
"""PTQ of the example Fashion-MNIST CNN, end to end, with quantx only.

1. import the trained PyTorch model (quantx.models) to MLIR (quantx.importer);
2. calibrate it through the JIT on the 1,000 calibration images (min/max);
3. rewrite it to static int8 (quantx-ptq) and print the per-layer report
   (scales, zero points, bytes, SQNR against float);
4. compare float and int8: test accuracy, weight size, JIT latency.
"""

import argparse
import os
import tempfile
import time

import numpy as np
import torch

import quantx.jit
from quantx import importer, models, ptq
from quantx.models import data


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--test-images", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=50)
    args = ap.parse_args()
    if args.test_images % args.batch:
        ap.error("--test-images must be a multiple of --batch")
    model = models.load("fashion_cnn")
    calib, _ = data.load_fashion_mnist("calib")
    test_x, test_y = data.load_fashion_mnist("test")
    test_x, test_y = test_x[:args.test_images], test_y[:args.test_images]
    with tempfile.TemporaryDirectory(prefix="quantx-example-") as tmp:
        def imported(batch, name):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(importer.import_module(model, (torch.zeros(batch, 1, 28, 28),)))
            return path

        t = time.perf_counter()
        calib_model = imported(100, "calib.mlir")
        stats = os.path.join(tmp, "stats.json")
        ptq.calibrate(calib_model, [calib[i:i + 100] for i in range(0, len(calib), 100)],
                      stats, kind="min_max", entry="forward")
        print(f"calibrated on {len(calib)} images in {time.perf_counter() - t:.1f} s")
        float_path = imported(args.batch, "float.mlir")
        int8_path = os.path.join(tmp, "int8.mlir")
        report = ptq.quantize(float_path, stats, int8_path, mode="static-int8")
        # Per-layer and output SQNR against the float model, on calibration
        # images (the test images stay for the accuracy below).
        n = min(len(calib), 500) // args.batch * args.batch
        ptq.add_sqnr(report, float_path, stats,
                     [calib[i:i + args.batch] for i in range(0, n, args.batch)])
        print(ptq.format_report(report))
        print(f"output SQNR vs float: {report['output_sqnr_db']:.2f} dB")
        fns = {"float": quantx.jit.compile(open(float_path).read())["forward"],
               "int8": quantx.jit.compile(open(int8_path).read())["forward"]}
        size = {"float": sum(l["bytes_before"] for l in report["layers"]),
                "int8": sum(l["bytes_after"] for l in report["layers"])}
        print(f"\n{'model':6} {'accuracy':>9} {'weights':>10} {'latency (batch ' + str(args.batch) + ')':>22}")
        for name, fn in fns.items():
            correct = sum(int((fn(test_x[i:i + args.batch]).argmax(1) ==
                               test_y[i:i + args.batch]).sum())
                          for i in range(0, len(test_x), args.batch))
            lat = fn.benchmark(test_x[:args.batch], warmup=2, repetitions=10).median * 1e3
            print(f"{name:6} {100 * correct / len(test_x):8.2f}% {size[name]:9d}B "
                  f"{lat:18.2f} ms")
        print(f"(first {len(test_x)} test images; weights {size['float'] / size['int8']:.2f}x "
              "smaller; bench/ptq.py compares with PyTorch's PTQ)")


if __name__ == "__main__":
    main()
