"""Example models trained on real data, and the data splits every workflow uses.

* :mod:`quantx.models.fashion` - a CNN and an MLP for Fashion-MNIST.
* :mod:`quantx.models.charlm` - a Llama-architecture character-level language
  model trained on five Jane Austen novels ("Persuasion" is held out).
* :mod:`quantx.models.data` - loaders for the datasets and the fixed
  train/calibration/test splits.

Trained weights live in ``quantx/models/data`` and are made by
``scripts/train_models.py`` (fixed seeds); :func:`load` returns a model in
evaluation mode with those weights.
"""

from .data import load, weights_path  # noqa: F401

__all__ = ["load", "weights_path"]
