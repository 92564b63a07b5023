"""Llama-architecture GGUF export of :class:`quantx.models.charlm.CharLlama`.

llama.cpp's ``llama`` architecture is Hugging Face's ``LlamaForCausalLM``
with three differences of convention, all handled here:

* **Names**: ``embed_tokens`` -> ``token_embd``, ``layers.N.self_attn.q_proj``
  -> ``blk.N.attn_q``, ``input_layernorm`` -> ``blk.N.attn_norm``,
  ``post_attention_layernorm`` -> ``blk.N.ffn_norm``, ``mlp.gate_proj`` ->
  ``blk.N.ffn_gate``, ``norm`` -> ``output_norm``, ``lm_head`` -> ``output``.
* **RoPE layout**: HF rotates the two *halves* of each head (dimension ``i``
  pairs with ``i + head_dim/2``); llama.cpp's ``llama`` RoPE rotates
  *adjacent* pairs (``2i`` with ``2i+1``). Both use frequency ``i`` for the
  pair, so reordering the output rows of ``q_proj`` and ``k_proj`` inside
  each head - row ``j*head_dim/2 + i`` of HF becomes row ``2i + j`` - gives
  the same attention scores (q.k is invariant to the same permutation of q
  and k). :func:`hf_to_interleaved` does it; :func:`interleaved_to_hf` is its
  inverse.
* **Tokenizer**: a SentencePiece-style ("llama") vocabulary of the
  characters, with ``<unk>``, ``<s>``, ``</s>`` as ids 0, 1, 2 and the space
  spelled U+2581 as SentencePiece does; every other character is a normal
  token of score 0. No space prefix and no BOS/EOS are added, so llama.cpp's
  tokenizer gives exactly the ids of :class:`CharTokenizer`.

Tensor types follow what llama.cpp's ``llama-quantize`` picks for each file
type (:func:`tensor_type`): 1-D norms stay F32; ``output.weight`` becomes
Q6_K for the legacy and K types except Q8_0 (kept Q8_0); for Q4_K (file type
Q4_K_M) ``attn_v`` and ``ffn_down`` of the layers ``use_more_bits`` selects
become Q6_K; a K-quant whose rows are not a multiple of 256 falls back to a
legacy type.
"""

import os

import numpy as np

from . import ExportEntry, QuantizedTensor, RawTensor, Value, export, prepare, read, write

__all__ = ["FILE_TYPES", "tensor_type", "hf_to_interleaved", "interleaved_to_hf",
           "gguf_tensors", "metadata", "export_llama", "load_llama"]

#: llama.cpp's ``llama_ftype`` for each variant (the K types as their _M mix).
FILE_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q8_0": 7, "q5_0": 8,
              "q5_1": 9, "q4_k": 15, "q5_k": 17, "q6_k": 18}

# llama-quantize's replacement when a K-quant's rows are not a multiple of 256.
_K_FALLBACK = {"q4_k": "q5_0", "q5_k": "q5_1", "q6_k": "q8_0"}


def _use_more_bits(i, n):
    """llama.cpp's rule for the layers that get more bits in the _M mixes."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def tensor_type(name, shape, ftype, n_layers):
    """The GGUF type of tensor ``name`` (logical shape, outermost first) in a
    file of type ``ftype`` ("f32", "q4_0", "q4_k", ...)."""
    ftype = ftype.lower()
    if ftype not in FILE_TYPES:
        raise ValueError(f"unknown file type {ftype!r}; known: {', '.join(FILE_TYPES)}")
    if len(shape) < 2 or ftype == "f32":
        return "f32"
    if ftype == "f16":
        return "f16"
    t = ftype
    row = shape[-1]
    if name == "output.weight":
        t = "q8_0" if ftype == "q8_0" or row % 256 else "q6_k"
    elif ftype in ("q4_k", "q5_k") and (".attn_v." in name or ".ffn_down." in name):
        layer = int(name.split(".")[1])
        if _use_more_bits(layer, n_layers):
            t = "q6_k"
    if t.endswith("_k") and row % 256:
        t = _K_FALLBACK[t]
    return t


def hf_to_interleaved(w, n_heads):
    """Reorders the output rows of a q/k projection [n_heads*head_dim, in]
    from HF's rotate-half layout to llama.cpp's adjacent-pair layout."""
    w = np.asarray(w)
    rows = w.shape[0]
    hd = rows // n_heads
    if hd * n_heads != rows or hd % 2:
        raise ValueError("q/k rows must be n_heads x an even head_dim")
    # New row h*hd + 2i + j takes old row h*hd + j*hd/2 + i.
    i = np.arange(hd // 2)
    order = np.stack([i, i + hd // 2], axis=1).reshape(-1)
    idx = (np.arange(n_heads)[:, None] * hd + order[None, :]).reshape(-1)
    return w[idx]


def interleaved_to_hf(w, n_heads):
    """Inverse of :func:`hf_to_interleaved`."""
    w = np.asarray(w)
    rows = w.shape[0]
    hd = rows // n_heads
    i = np.arange(hd // 2)
    order = np.stack([i, i + hd // 2], axis=1).reshape(-1)
    idx = (np.arange(n_heads)[:, None] * hd + order[None, :]).reshape(-1)
    inv = np.empty_like(idx)
    inv[idx] = np.arange(rows)
    return w[inv]


_LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_GLOBAL_NAMES = {"embed_tokens.weight": "token_embd.weight",
                 "norm.weight": "output_norm.weight",
                 "lm_head.weight": "output.weight"}


def gguf_name(hf_name):
    """GGUF tensor name of a CharLlama / HF state-dict key."""
    if hf_name in _GLOBAL_NAMES:
        return _GLOBAL_NAMES[hf_name]
    parts = hf_name.split(".", 2)
    if parts[0] != "layers" or len(parts) < 3 or parts[2] not in _LAYER_NAMES:
        raise ValueError(f"no GGUF name for tensor {hf_name!r}")
    return f"blk.{int(parts[1])}.{_LAYER_NAMES[parts[2]]}"


def gguf_tensors(state, cfg):
    """[(GGUF name, tensor)] in llama.cpp's order from a state dict of float
    arrays or :class:`QuantizedTensor`; q/k rows permuted to llama.cpp's
    RoPE layout (for a QuantizedTensor: its levels and per-row parameters,
    which is exact)."""
    def permute(t):
        if isinstance(t, QuantizedTensor):
            return QuantizedTensor(
                hf_to_interleaved(t.levels, cfg.n_heads),
                hf_to_interleaved(t.scales, cfg.n_heads),
                None if t.offsets is None else hf_to_interleaved(t.offsets, cfg.n_heads),
                t.group_size, t.form)
        return np.ascontiguousarray(hf_to_interleaved(t, cfg.n_heads))

    def arr(t):
        if isinstance(t, QuantizedTensor):
            return t
        if hasattr(t, "detach"):
            t = t.detach().cpu().numpy()
        return np.ascontiguousarray(t, dtype=np.float32)

    state = {k: arr(v) for k, v in state.items()}
    out = [("token_embd.weight", state["embed_tokens.weight"])]
    for layer in range(cfg.n_layers):
        for hf, gg in _LAYER_NAMES.items():
            t = state[f"layers.{layer}.{hf}"]
            if hf in ("self_attn.q_proj.weight", "self_attn.k_proj.weight"):
                t = permute(t)
            out.append((f"blk.{layer}.{gg}", t))
    out.append(("output_norm.weight", state["norm.weight"]))
    out.append(("output.weight", state["lm_head.weight"]))
    return out


SPACE = "\u2581"


def metadata(cfg, tokenizer, ftype, name="quantx charlm"):
    """llama.cpp's ``general.*``, ``llama.*`` and ``tokenizer.ggml.*`` keys."""
    tokens = [t.replace(" ", SPACE) if i >= 3 else t
              for i, t in enumerate(tokenizer.tokens)]
    token_type = np.ones(len(tokens), np.int32)  # normal
    token_type[tokenizer.UNK] = 2                 # unknown
    token_type[tokenizer.BOS] = 3                 # control
    token_type[tokenizer.EOS] = 3
    return [
        ("general.architecture", Value.string("llama")),
        ("general.name", Value.string(name)),
        ("general.file_type", Value.u32(FILE_TYPES[ftype.lower()])),
        ("llama.vocab_size", Value.u32(cfg.vocab_size)),
        ("llama.context_length", Value.u32(cfg.max_seq_len)),
        ("llama.embedding_length", Value.u32(cfg.dim)),
        ("llama.block_count", Value.u32(cfg.n_layers)),
        ("llama.feed_forward_length", Value.u32(cfg.ffn_dim)),
        ("llama.attention.head_count", Value.u32(cfg.n_heads)),
        ("llama.attention.head_count_kv", Value.u32(cfg.n_heads)),
        ("llama.attention.layer_norm_rms_epsilon", Value.f32(cfg.norm_eps)),
        ("llama.rope.dimension_count", Value.u32(cfg.head_dim)),
        ("llama.rope.freq_base", Value.f32(cfg.rope_theta)),
        ("tokenizer.ggml.model", Value.string("llama")),
        ("tokenizer.ggml.tokens", Value.array(8, tokens)),
        ("tokenizer.ggml.scores", Value.array(6, np.zeros(len(tokens), np.float32))),
        ("tokenizer.ggml.token_type", Value.array(5, token_type)),
        ("tokenizer.ggml.unknown_token_id", Value.u32(tokenizer.UNK)),
        ("tokenizer.ggml.bos_token_id", Value.u32(tokenizer.BOS)),
        ("tokenizer.ggml.eos_token_id", Value.u32(tokenizer.EOS)),
        ("tokenizer.ggml.add_space_prefix", Value.bool_(False)),
        ("tokenizer.ggml.add_bos_token", Value.bool_(False)),
        ("tokenizer.ggml.add_eos_token", Value.bool_(False)),
    ]


def export_llama(path, model, tokenizer, ftype="f32", state=None,
                 error_report=None, name="quantx charlm"):
    """Writes ``model`` (a CharLlama) as a llama.cpp ``llama`` GGUF file of
    type ``ftype`` ("f32", "f16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
    "q5_1", "q4_k", "q5_k", "q6_k"; the K types are llama.cpp's _M mixes). ``state`` overrides the model's state dict entries,
    e.g. with :class:`QuantizedTensor` weights quantx already quantized: those
    are converted without requantization when they are exactly the type
    :func:`tensor_type` picks (else requantized, with the error reported).
    Returns the :class:`ExportEntry` list."""
    cfg = model.config
    sd = {k: v for k, v in model.state_dict().items()}
    if state:
        sd.update(state)
    tensors = gguf_tensors(sd, cfg)
    types = {n: tensor_type(n, t.shape, ftype, cfg.n_layers) for n, t in tensors}
    return export(path, metadata(cfg, tokenizer, ftype, name), tensors,
                  types=types, error_report=error_report)


def load_llama(path):
    """(CharLlama with the weights quantx's codecs dequantize from a GGUF
    file written by :func:`export_llama` (q/k rows back in HF layout),
    CharTokenizer)."""
    import torch

    from ..models.charlm import CharLlama, CharTokenizer, LlamaConfig

    f = read(path)
    if f.value("general.architecture") != "llama":
        raise ValueError(f"{path}: not a llama model")
    heads = f.value("llama.attention.head_count")
    if f.value("llama.attention.head_count_kv", heads) != heads:
        raise ValueError(f"{path}: grouped-query attention is not supported")
    tokens = f.value("tokenizer.ggml.tokens")
    cfg = LlamaConfig(
        vocab_size=len(tokens),
        dim=f.value("llama.embedding_length"),
        n_layers=f.value("llama.block_count"),
        n_heads=heads,
        ffn_dim=f.value("llama.feed_forward_length"),
        max_seq_len=f.value("llama.context_length"),
        rope_theta=float(np.float32(f.value("llama.rope.freq_base"))),
        norm_eps=float(np.float32(f.value("llama.attention.layer_norm_rms_epsilon"))))
    state = {}
    names = {gguf_name(k): k for k in _hf_keys(cfg)}
    for info in f.tensors:
        if info.name not in names:
            raise ValueError(f"{path}: unexpected tensor {info.name}")
        w = f.tensor(info.name)
        if info.name.endswith(("attn_q.weight", "attn_k.weight")):
            w = interleaved_to_hf(w, cfg.n_heads)
        state[names[info.name]] = torch.from_numpy(np.ascontiguousarray(w))
    model = CharLlama(cfg)
    model.load_state_dict(state)
    model.eval()
    chars = [t.replace(SPACE, " ") for t in tokens[3:]]
    return model, CharTokenizer(chars)


def _hf_keys(cfg):
    keys = list(_GLOBAL_NAMES)
    for layer in range(cfg.n_layers):
        keys += [f"layers.{layer}.{k}" for k in _LAYER_NAMES]
    return keys
