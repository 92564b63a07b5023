"""Example models trained on real data, and the data splits every workflow uses.

* :mod:`quantx.models.fashion` - a CNN and an MLP for Fashion-MNIST.
* :mod:`quantx.models.charlm` - a Llama-architecture character-level language
  model trained on five Jane Austen novels ("Persuasion" is held out).
* :mod:`quantx.models.data` - loaders for the datasets and the fixed
  train/calibration/test splits.
* :mod:`quantx.models.evaluate` - the float metrics (accuracy, perplexity).

Trained weights live in ``quantx/models/data`` and are made by
``scripts/train_models.py`` (fixed seeds), which also records their float
metrics in ``data/metrics.json``; :func:`load` returns a model in evaluation
mode with those weights. See docs/Models.md.
"""

from .data import load, weights_path  # noqa: F401

__all__ = ["load", "weights_path"]
