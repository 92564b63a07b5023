#!/usr/bin/env python3
"""Monitoring the static int8 Fashion-MNIST CNN on new data (docs/PTQ.md).

Calibrates the example CNN on the 1,000 calibration images (min/max),
quantizes it to static int8, then runs test images through a
quantx.monitor.Monitor three times: unchanged, with the contrast doubled
and with Gaussian noise added. The monitor compares the int8 model with the
float model on every 10th call and reports the output SQNR, the top-class
agreement and the share of each quantized activation outside its
calibrated range; the drifted data raise alerts.

    PYTHONPATH=build/python_packages .venv/bin/python examples/ptq_monitor.py
"""

import argparse
import os
import tempfile

import numpy as np
import torch

from quantx import importer, models, monitor, ptq
from quantx.models import data

BATCH = 100


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--test-images", type=int, default=2000)
    args = ap.parse_args()
    if args.test_images <= 0 or args.test_images % BATCH:
        ap.error(f"--test-images must be a positive multiple of {BATCH}")
    calib, _ = data.load_fashion_mnist("calib")
    test, _ = data.load_fashion_mnist("test")
    test = test[:args.test_images]
    noise = np.random.default_rng(0).normal(0.0, 0.5, test.shape).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="quantx-monitor-example-") as tmp:
        path = lambda name: os.path.join(tmp, name)  # noqa: E731
        with open(path("cnn.mlir"), "w") as f:
            f.write(importer.import_module(models.load("fashion_cnn"),
                                           (torch.zeros(BATCH, 1, 28, 28),)))
        ptq.calibrate(path("cnn.mlir"), calib, path("stats.json"), entry="forward")
        ptq.quantize(path("cnn.mlir"), path("stats.json"), path("cnn-int8.mlir"),
                     report=path("report.json"))
        for title, images in (("test images", test),
                              ("contrast doubled (normalized pixels x 2)", test * 2.0),
                              ("Gaussian noise (sd 0.5) added", test + noise)):
            summary = monitor.monitor(path("cnn-int8.mlir"), path("cnn.mlir"),
                                      path("stats.json"), images.astype(np.float32),
                                      report=path("report.json"))
            print(f"== {title}")
            print(summary["text"])


if __name__ == "__main__":
    main()
