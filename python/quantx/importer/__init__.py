"""PyTorch importer: ``nn.Module`` + example inputs -> MLIR.

    import torch, quantx.importer, quantx.jit
    from quantx import models
    model = models.load("fashion_cnn")
    x = torch.zeros(1, 1, 28, 28)
    text = quantx.importer.import_module(model, (x,))
    logits = quantx.jit.compile(text)["forward"](x.numpy())

See docs/Importer.md for the supported operations and the output form.
"""

from .fx import UnsupportedOperationError, import_module  # noqa: F401

__all__ = ["import_module", "UnsupportedOperationError"]
