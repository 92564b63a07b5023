#!/usr/bin/env python3
"""Writes python/quantx/models/data/splits.json: the fixed data splits of the
example models (see quantx/models/data.py for what each split is)."""

import json
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "python", "quantx", "models", "data", "splits.json")

FASHION_TRAIN_SIZE = 60000
FASHION_CALIB_SIZE = 1000
FASHION_VAL_SIZE = 4000
AUSTEN_CALIB_CHARS = 65536


def main():
    rng = np.random.Generator(np.random.PCG64(20261128))
    calib = np.sort(rng.choice(FASHION_TRAIN_SIZE, FASHION_CALIB_SIZE, replace=False))
    # Drawn after the calibration images, from the same stream, so that
    # those stay what they were before this split existed.
    rest = np.setdiff1d(np.arange(FASHION_TRAIN_SIZE), calib)
    val = np.sort(rng.choice(rest, FASHION_VAL_SIZE, replace=False))
    data = {
        "fashion_mnist": {
            "seed": 20261128,
            "calib_indices": [int(i) for i in calib],
            "val_indices": [int(i) for i in val],
        },
        "austen": {"calib_chars": AUSTEN_CALIB_CHARS, "test_book": "Persuasion"},
    }
    with open(OUT + ".tmp", "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.replace(OUT + ".tmp", OUT)
    print(f"wrote {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
