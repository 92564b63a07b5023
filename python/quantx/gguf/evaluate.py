"""Evaluate an exported language model with llama.cpp and with quantx, on
the same token windows, for the checks of bench/gguf.py and the tests.

An *evaluator* is any callable ``tokens (1-D int sequence) -> logits
float32 [len(tokens), vocab]`` for one window evaluated from an empty
context. Two are provided:

* :class:`LlamaCppEvaluator` - llama.cpp through ``llama-cpp-python``: token
  ids fed directly (no tokenizer), logits of every position, fp32 K/V cache
  (llama.cpp's default f16 cache would round attention inputs), no flash
  attention.
* :func:`quantx_evaluator` - quantx's evaluation of a GGUF file: the model
  with exactly the weights quantx's codecs dequantize from the file. The
  default ``"jit"`` backend imports :class:`~quantx.models.charlm.CharLlama`
  with them through :mod:`quantx.importer` and runs it with :mod:`quantx.jit`
  (float32); ``"torch"`` runs the same model in PyTorch; other backends (e.g. a JIT) register themselves in
  :data:`BACKENDS` under a name with a factory ``path -> evaluator``.
"""

import math
from typing import Callable, Dict, List, Sequence

import numpy as np

__all__ = ["LlamaCppEvaluator", "quantx_evaluator", "BACKENDS", "windows",
           "perplexity", "nll", "logits_rel_error"]


class LlamaCppEvaluator:
    """llama.cpp on a GGUF file (CPU, ``n_threads`` threads)."""

    def __init__(self, path, n_ctx, n_threads=None, verbose=False):
        import llama_cpp

        self.llm = llama_cpp.Llama(
            model_path=str(path), n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx,
            logits_all=True, type_k=llama_cpp.GGML_TYPE_F32,
            type_v=llama_cpp.GGML_TYPE_F32, flash_attn=False, n_gpu_layers=0,
            n_threads=n_threads, n_threads_batch=n_threads, seed=0,
            verbose=verbose)
        self.n_vocab = self.llm.n_vocab()

    def __call__(self, tokens):
        tokens = [int(t) for t in tokens]
        self.llm.reset()
        self.llm.eval(tokens)
        return np.array(self.llm.scores[:len(tokens)], dtype=np.float32)

    def close(self):
        self.llm.close()


def _torch_backend(path):
    import torch

    from .llama import load_llama

    model, _ = load_llama(path)

    def run(tokens):
        with torch.no_grad():
            x = torch.tensor([list(tokens)], dtype=torch.int64)
            return model(x)[0].numpy().astype(np.float32)

    run.backend = "torch (CharLlama, float32, weights dequantized by quantx's codecs)"
    return run


def _jit_backend(path):
    """The model imported to MLIR by quantx.importer and run by quantx's JIT
    (one compiled function per window length)."""
    import torch

    from .. import importer, jit
    from .llama import load_llama

    model, _ = load_llama(path)
    compiled = {}

    def run(tokens):
        x = np.array([list(tokens)], dtype=np.int64)
        n = x.shape[1]
        if n not in compiled:
            text = importer.import_module(model, (torch.from_numpy(x),))
            compiled[n] = jit.compile(text)["forward"]
        return np.asarray(compiled[n](x)[0], dtype=np.float32)

    run.backend = ("quantx JIT (torch.fx import of CharLlama, float32, "
                   "weights dequantized by quantx's codecs)")
    return run


#: name -> factory(path) -> evaluator.
BACKENDS: Dict[str, Callable] = {"torch": _torch_backend, "jit": _jit_backend}


def quantx_evaluator(path, backend="jit"):
    """quantx's evaluator of the model in GGUF file ``path``."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    return BACKENDS[backend](path)


def windows(tokens, length, count):
    """The first ``count`` non-overlapping windows of ``length`` tokens."""
    tokens = list(tokens)
    n = min(count, len(tokens) // length)
    if n < 1:
        raise ValueError(f"need at least {length} tokens, have {len(tokens)}")
    return [tokens[i * length:(i + 1) * length] for i in range(n)]


def nll(logits, tokens):
    """Summed negative log-likelihood (float64) of tokens[1:] given the
    logits of positions [:-1], and the count."""
    z = np.asarray(logits, np.float64)[:-1]
    z = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    target = np.asarray(tokens[1:], np.int64)
    return float(np.sum(lse - z[np.arange(len(target)), target])), len(target)


def perplexity(logits_per_window, token_windows):
    total, count = 0.0, 0
    for lg, w in zip(logits_per_window, token_windows):
        s, n = nll(lg, w)
        total += s
        count += n
    return math.exp(total / count)


def logits_rel_error(a, b):
    """max |a - b| / max |b| (b the reference)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# ----------------------------------------------------------------------------
# Diagnostic: llama.cpp's activation rounding, emulated
# ----------------------------------------------------------------------------

# The type llama.cpp's CPU backend converts a matmul's activations to for
# each weight type (ggml's vec_dot_type): the dot products run on these.
_VEC_DOT_TYPE = {"f32": None, "f16": "f16", "q4_0": "q8_0", "q4_1": "q8_1",
                 "q5_0": "q8_0", "q5_1": "q8_1", "q8_0": "q8_0",
                 "q4_k": "q8_k", "q5_k": "q8_k", "q6_k": "q8_k"}


def round_activations(x, kind):
    """x (float32 [..., K]) as llama.cpp's dot products see it: rounded to
    f16, or quantized per 32 (q8_0 / q8_1: d = amax/127 stored as f16) or
    per 256 (q8_k: d = max/-128 kept in f32) elements and dequantized."""
    import torch

    if kind is None:
        return x
    if kind == "f16":
        return x.half().float()
    shape = x.shape
    block = 256 if kind == "q8_k" else 32
    v = x.reshape(-1, block).double().float()
    if kind == "q8_k":
        # ggml's quantize_row_q8_K: the element of largest magnitude maps
        # to -128; values are rounded to nearest and capped at 127.
        idx = v.abs().argmax(dim=1, keepdim=True)
        mx = torch.gather(v, 1, idx)
        iscale = torch.where(mx != 0, -128.0 / mx, torch.zeros_like(mx))
        q = torch.clamp(torch.round(v * iscale), max=127.0)
        d = torch.where(mx != 0, 1.0 / iscale, torch.zeros_like(mx))
        return (q * d).reshape(shape)
    amax = v.abs().amax(dim=1, keepdim=True)
    d = amax / 127.0
    inv = torch.where(d != 0, 1.0 / d, torch.zeros_like(d))
    q = torch.round(v * inv)  # ggml rounds half away from zero; ties are rare
    return (q * d.half().float()).reshape(shape)


def _torch_llamacpp_backend(path):
    import torch

    from . import read
    from .llama import gguf_name, load_llama

    model, _ = load_llama(path)
    f = read(path)
    types = {t.name: t.type for t in f.tensors}
    for hf_name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            kind = _VEC_DOT_TYPE[types[gguf_name(hf_name + ".weight")]]
            module.register_forward_pre_hook(
                lambda mod, inp, kind=kind: (round_activations(inp[0], kind),))

    def run(tokens):
        with torch.no_grad():
            x = torch.tensor([list(tokens)], dtype=torch.int64)
            return model(x)[0].numpy().astype(np.float32)

    run.backend = ("torch with llama.cpp's activation rounding emulated "
                   "(diagnostic, not quantx's numerics)")
    return run


BACKENDS["torch-llamacpp-activations"] = _torch_llamacpp_backend
