#!/usr/bin/env python3
"""PTQ of the example Fashion-MNIST CNN, end to end, with quantx only.

1. import the trained PyTorch model (quantx.models) to MLIR (quantx.importer);
2. calibrate it through the JIT on the 1,000 calibration images (min/max);
3. rewrite it to static int8 (quantx-ptq) and print the per-layer report
   (scales, zero points, bytes, SQNR against float);
4. compare float and int8 (quantx.evaluate): test accuracy, agreement with
   float, weight bytes, JIT latency and throughput.
"""

import argparse
import os
import tempfile
import time

import torch

from quantx import evaluate, importer, models, ptq
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
        # Float beside int8 on the test images: accuracy, fidelity, weight
        # bytes (constants at storage width), latency and throughput.
        result = evaluate.evaluate({"float": float_path, "int8": int8_path},
                                   test_x, labels=test_y, rounds=3, min_seconds=0.1)
        print()
        print(result["text"])
        print(f"(first {len(test_x)} test images; bench/ptq.py compares with "
              "PyTorch's PTQ)")

if __name__ == "__main__":
    main()
