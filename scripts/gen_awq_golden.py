#!/usr/bin/env python3
"""AWQ parity data: a small Llama decoder block, the reference's AWQ search on
it, and quantx's AWQ search on the same block.

The block (hidden 512, 8 heads x 64, SwiGLU FFN 1024, RMSNorm, RoPE, causal
attention) and its calibration input (16 sequences x 64 tokens) are generated
from a fixed seed with numpy, with a few large-magnitude input channels
(outliers) so that AWQ's scaling matters.

    # golden numbers from the reference (mit-han-lab/llm-awq checkout):
    python scripts/gen_awq_golden.py --reference PATH/llm-awq \
        --out test/data/awq/golden.json

The reference needs torch and transformers==4.46.0 (its pinned version; see
python/requirements-dev.txt). Its module `awq.quantize.qmodule` imports the
CUDA extension `awq_inference_engine`, which the search does not use: an
empty module is registered under that name, and `.cuda()` calls become
no-ops so that the search runs on the CPU. Nothing of the algorithm changes.

This file is also imported by python/tests/test_awq.py and bench/awq.py for
the block, its numpy forward and the quantx side of the flow (numpy only).
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

HIDDEN = 512
HEADS = 8
HEAD_DIM = 64
FFN = 1024
BATCH = 16
SEQ = 64
SEED = 20240611
ROPE_THETA = 10000.0
RMS_EPS = 1e-6
CONFIGS = [(4, 128), (3, 128)]
LINEARS = ["q", "k", "v", "o", "gate", "up", "down"]
# Module names the reference uses for each linear of a LlamaDecoderLayer.
HF_NAMES = {
    "q": "self_attn.q_proj", "k": "self_attn.k_proj",
    "v": "self_attn.v_proj", "o": "self_attn.o_proj",
    "gate": "mlp.gate_proj", "up": "mlp.up_proj", "down": "mlp.down_proj",
}


# ----------------------------------------------------------------------------
# The block.
# ----------------------------------------------------------------------------

def make_block(seed=SEED):
    """Weights and calibration input of the block, float32, reproducible."""
    rng = np.random.default_rng(seed)

    def linear(rows, cols, heavy=True):
        # Student-t entries (heavier tails than a Gaussian, as trained
        # weights have) with per-row gains.
        w = rng.standard_t(5, size=(rows, cols)) / math.sqrt(5.0 / 3.0)
        w *= np.exp(rng.normal(0.0, 0.25, size=(rows, 1)))
        return (w / math.sqrt(cols)).astype(np.float32)

    p = {}
    # Residual-stream input with a handful of outlier channels.
    x = rng.normal(0.0, 1.0, size=(BATCH, SEQ, HIDDEN))
    outliers = rng.choice(HIDDEN, size=8, replace=False)
    x[..., outliers] *= rng.uniform(15.0, 60.0, size=8)
    x += rng.normal(0.0, 0.5, size=(BATCH, 1, HIDDEN))  # per-sequence offset
    p["x"] = x.astype(np.float32)
    p["in_norm"] = rng.uniform(0.4, 1.6, size=HIDDEN).astype(np.float32)
    p["post_norm"] = rng.uniform(0.4, 1.6, size=HIDDEN).astype(np.float32)
    for name in ["q", "k", "v", "o"]:
        p[name] = linear(HIDDEN, HIDDEN)
    p["gate"] = linear(FFN, HIDDEN)
    p["up"] = linear(FFN, HIDDEN)
    # A few FFN channels with large gate/up rows give the down projection
    # outlier input channels too.
    hot = rng.choice(FFN, size=12, replace=False)
    p["gate"][hot] *= 4.0
    p["up"][hot] *= 4.0
    p["down"] = linear(HIDDEN, FFN)
    return p


def rms_norm(x, weight):
    x64 = x.astype(np.float32)
    var = np.mean(x64 * x64, axis=-1, keepdims=True)
    return (x64 / np.sqrt(var + RMS_EPS) * weight).astype(np.float32)


def rope_tables(seq=SEQ, dim=HEAD_DIM, theta=ROPE_THETA):
    inv_freq = 1.0 / (theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    freqs = np.arange(seq, dtype=np.float64)[:, None] * inv_freq[None, :]
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb), np.sin(emb)


def apply_rope(t, cos, sin):
    # t: (B, H, T, D); rotate_half convention (first half / second half).
    half = t.shape[-1] // 2
    rot = np.concatenate([-t[..., half:], t[..., :half]], axis=-1)
    return t * cos + rot * sin


def attention(xn, wq, wk, wv, wo, dtype=np.float64):
    """Llama self-attention (o_proj included) on normalised input (B,T,C)."""
    b, t, c = xn.shape
    x = xn.astype(dtype)

    def heads(y):
        return y.reshape(b, t, HEADS, HEAD_DIM).transpose(0, 2, 1, 3)

    q = heads(x @ wq.astype(dtype).T)
    k = heads(x @ wk.astype(dtype).T)
    v = heads(x @ wv.astype(dtype).T)
    cos, sin = rope_tables(t)
    q = apply_rope(q, cos, sin).astype(dtype)
    k = apply_rope(k, cos, sin).astype(dtype)
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(HEAD_DIM)
    mask = np.triu(np.ones((t, t), dtype=bool), 1)
    s = np.where(mask, -np.inf, s)
    s = s - s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    pr = e / e.sum(axis=-1, keepdims=True)
    o = (pr @ v).transpose(0, 2, 1, 3).reshape(b, t, HEADS * HEAD_DIM)
    return o @ wo.astype(dtype).T, o


def silu(v):
    return v / (1.0 + np.exp(-v))


def mlp(hn, wg, wu, wd, dtype=np.float64):
    h = hn.astype(dtype)
    act = silu(h @ wg.astype(dtype).T) * (h @ wu.astype(dtype).T)
    return act @ wd.astype(dtype).T, act


def block_forward(p, x=None, dtype=np.float64):
    """Block output and the inputs of every linear (float32 copies)."""
    x = p["x"] if x is None else x
    xn = rms_norm(x, p["in_norm"])
    attn_out, attn_mid = attention(xn, p["q"], p["k"], p["v"], p["o"], dtype)
    h = x.astype(dtype) + attn_out
    hn = rms_norm(h.astype(np.float32), p["post_norm"])
    mlp_out, act = mlp(hn, p["gate"], p["up"], p["down"], dtype)
    out = h + mlp_out
    feats = {"q": xn, "o": attn_mid.astype(np.float32), "gate": hn,
             "down": act.astype(np.float32)}
    return out, feats


def evaluate(p, final, feats):
    """Errors of an AWQ result against the float block.

    `final` holds the quantized block: folded norm weights ('in_norm',
    'post_norm') and the dequantized weights of the seven linears (in the
    scaled coordinates the deployed model uses). Returns the block output
    MSE and per linear ||X W^T - X What^T||^2 over the float block's own
    linear inputs, with What mapped back to the unscaled coordinates.
    """
    ref_out, _ = block_forward(p)
    q_out, _ = block_forward(final)
    block_mse = float(np.mean((ref_out - q_out) ** 2))
    # Effective weights in the original coordinates: column scale of the
    # linear's own input, row scale of the op after it (v->o, up->down).
    col = {"q": final["in_norm"] / p["in_norm"],
           "k": final["in_norm"] / p["in_norm"],
           "v": final["in_norm"] / p["in_norm"],
           "gate": final["post_norm"] / p["post_norm"],
           "up": final["post_norm"] / p["post_norm"]}
    per_linear = {}
    inputs = {"q": feats["q"], "k": feats["q"], "v": feats["q"],
              "o": feats["o"], "gate": feats["gate"], "up": feats["gate"],
              "down": feats["down"]}
    for name in LINEARS:
        w = p[name].astype(np.float64)
        what = final[name].astype(np.float64)
        if name in col:
            what = what * col[name][None, :]
        x = inputs[name].reshape(-1, w.shape[1]).astype(np.float64)
        per_linear[name] = None, x, w, what
    # o and down: their column scales are the row scales of v and up.
    s_o = final["s_o"].astype(np.float64)
    s_down = final["s_down"].astype(np.float64)
    out = {}
    for name in LINEARS:
        _, x, w, what = per_linear[name]
        if name == "o":
            what = what / s_o[None, :]
        elif name == "down":
            what = what / s_down[None, :]
        elif name == "v":
            what = what * s_o[:, None]
        elif name == "up":
            what = what * s_down[:, None]
        d = x @ (w - what).T
        out[name] = float(np.sum(d * d))
    return block_mse, out


# ----------------------------------------------------------------------------
# quantx's side of the flow (numpy + quantx._core).
# ----------------------------------------------------------------------------

def run_quantx(core, p, bits, group, python_forward=False):
    """AWQ on the block with quantx: scale search for the four groups the
    reference searches (q/k/v through the attention, o, gate/up through the
    MLP, down), fold, clip search for v, o, gate, up, down, quantize.

    Returns (final, info) where final is the quantized block for evaluate().
    """
    _, feats = block_forward(p, dtype=np.float32)
    x_qkv = feats["q"].reshape(-1, HIDDEN)
    x_o = feats["o"].reshape(-1, HIDDEN)
    x_gate = feats["gate"].reshape(-1, HIDDEN)
    x_down = feats["down"].reshape(-1, FFN)
    t0 = time.perf_counter()
    if python_forward:
        attn_fwd = lambda ws: attention(  # noqa: E731
            feats["q"], ws[0], ws[1], ws[2], p["o"], np.float32)[0]
        mlp_fwd = lambda ws: mlp(  # noqa: E731
            feats["gate"], ws[0], ws[1], p["down"], np.float32)[0]
    else:
        attn_fwd = core.AWQLlamaAttention(p["o"], batch=BATCH, seq_len=SEQ,
                                          num_heads=HEADS, head_dim=HEAD_DIM,
                                          rope_theta=ROPE_THETA)
        mlp_fwd = core.AWQGatedMLP(p["down"])
    kw = dict(bits=bits, group_size=group)
    r_qkv = core.awq_search_scale([p["q"], p["k"], p["v"]], x_qkv, attn_fwd,
                                  **kw)
    r_o = core.awq_search_scale([p["o"]], x_o, None, **kw)
    r_mlp = core.awq_search_scale([p["gate"], p["up"]], x_gate, mlp_fwd, **kw)
    r_down = core.awq_search_scale([p["down"]], x_down, None, **kw)
    s1, s2, s3, s4 = (r["scales"] for r in (r_qkv, r_o, r_mlp, r_down))
    # Fold the scales as the reference's apply_scale does.
    w = {n: p[n].copy() for n in LINEARS}
    final = {"x": p["x"], "in_norm": p["in_norm"] / s1,
             "post_norm": p["post_norm"] / s3, "s_o": s2, "s_down": s4}
    for n in ("q", "k", "v"):
        w[n] *= s1[None, :]
    w["v"] /= s2[:, None]
    w["o"] *= s2[None, :]
    for n in ("gate", "up"):
        w[n] *= s3[None, :]
    w["up"] /= s4[:, None]
    w["down"] *= s4[None, :]
    xs = {"v": x_qkv / s1, "o": x_o / s2, "gate": x_gate / s3,
          "up": x_gate / s3, "down": x_down / s4}
    clips = {}
    for n in ("v", "o", "gate", "up", "down"):
        c = core.awq_search_clip(w[n], xs[n], **kw)
        clips[n] = c["max_val"]
        w[n] = c["weight"]
    for n in LINEARS:
        final[n] = core.awq_pseudo_quantize(w[n], **kw)
    elapsed = time.perf_counter() - t0
    info = {"seconds": elapsed,
            "ratios": [r["best_index"] for r in (r_qkv, r_o, r_mlp, r_down)],
            "clips": clips}
    return final, info


# ----------------------------------------------------------------------------
# The reference's side (torch + transformers + llm-awq checkout).
# ----------------------------------------------------------------------------

def load_reference(path):
    import types
    import torch
    sys.modules.setdefault("awq_inference_engine",
                           types.ModuleType("awq_inference_engine"))
    torch.nn.Module.cuda = lambda self, *a, **k: self
    torch.Tensor.cuda = lambda self, *a, **k: self
    # The reference's package is `awq`; make sure nothing else of that name
    # (e.g. bench/awq.py's folder on sys.path) shadows it.
    path = os.path.abspath(path)
    sys.path.insert(0, path)
    stale = sys.modules.get("awq")
    if stale is not None and not hasattr(stale, "__path__"):
        del sys.modules["awq"]
    from awq.quantize import auto_scale, auto_clip, quantizer  # noqa: F401
    return auto_scale, auto_clip, quantizer


def run_reference(path, p, bits, group):
    """The reference's per-layer AWQ flow (run_awq's loop body) on the block:
    capture linear inputs, auto_scale_block, apply_scale, auto_clip_block,
    apply_clip, then pseudo-quantize every linear."""
    import torch
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import (
        LlamaDecoderLayer, LlamaRotaryEmbedding)
    auto_scale, auto_clip, quantizer = load_reference(path)
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=HIDDEN, intermediate_size=FFN,
                      num_attention_heads=HEADS, num_key_value_heads=HEADS,
                      rms_norm_eps=RMS_EPS, rope_theta=ROPE_THETA,
                      max_position_embeddings=SEQ, hidden_act="silu",
                      attention_bias=False, mlp_bias=False)
    cfg._attn_implementation = "eager"
    layer = LlamaDecoderLayer(cfg, layer_idx=0).eval()
    with torch.no_grad():
        layer.input_layernorm.weight.copy_(torch.from_numpy(p["in_norm"]))
        layer.post_attention_layernorm.weight.copy_(
            torch.from_numpy(p["post_norm"]))
        for n in LINEARS:
            layer.get_submodule(HF_NAMES[n]).weight.copy_(
                torch.from_numpy(p[n]))
    x = torch.from_numpy(p["x"])
    pos = torch.arange(SEQ)[None, :].expand(BATCH, SEQ)
    rotary = LlamaRotaryEmbedding(config=cfg)
    cos, sin = rotary(x, pos)
    mask = torch.full((SEQ, SEQ), torch.finfo(torch.float32).min).triu(1)
    mask = mask[None, None].expand(BATCH, 1, SEQ, SEQ)
    layer_kwargs = {"attention_mask": mask, "position_ids": pos,
                    "position_embeddings": (cos, sin), "use_cache": False}
    q_config = {"zero_point": True, "q_group_size": group}

    # run_awq: cache the inputs of every linear from a float forward.
    feat = {n: [] for n in HF_NAMES.values()}
    hooks = [layer.get_submodule(n).register_forward_hook(
        lambda m, inp, out, n=n: feat[n].append(inp[0].detach().cpu()))
        for n in HF_NAMES.values()]
    with torch.no_grad():
        float_out = layer(x, **layer_kwargs)[0]
    for h in hooks:
        h.remove()
    input_feat = {k: torch.cat(v, dim=0) for k, v in feat.items()}
    np_out, _ = block_forward(p)
    forward_gap = float(np.max(np.abs(float_out.numpy() - np_out)))

    # Both cores (torch's OpenMP default here is one thread).
    torch.set_num_threads(os.cpu_count() or 1)
    t0 = time.perf_counter()
    scales_list = auto_scale.auto_scale_block(layer, dict(layer_kwargs),
                                              w_bit=bits, q_config=q_config,
                                              input_feat=input_feat)
    auto_scale.apply_scale(layer, scales_list, input_feat_dict=input_feat)
    t1 = time.perf_counter()
    clip_list = auto_clip.auto_clip_block(layer, w_bit=bits,
                                          q_config=q_config,
                                          input_feat=input_feat)
    auto_clip.apply_clip(layer, clip_list)
    t2 = time.perf_counter()

    scales = {names[0]: s for _, names, s in scales_list}
    final = {"x": p["x"],
             "in_norm": layer.input_layernorm.weight.detach().numpy().copy(),
             "post_norm":
                 layer.post_attention_layernorm.weight.detach().numpy().copy(),
             "s_o": scales["self_attn.o_proj"].numpy(),
             "s_down": scales["mlp.down_proj"].numpy()}
    with torch.no_grad():
        for n in LINEARS:
            wt = layer.get_submodule(HF_NAMES[n]).weight.data
            final[n] = quantizer.pseudo_quantize_tensor(
                wt, n_bit=bits, **q_config).numpy().copy()
    info = {"seconds": t2 - t0, "scale_seconds": t1 - t0,
            "clip_seconds": t2 - t1, "forward_gap": forward_gap,
            "threads": torch.get_num_threads()}
    return final, info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", required=True,
                    help="checkout of mit-han-lab/llm-awq")
    ap.add_argument("--out", default=None, help="golden JSON to write")
    args = ap.parse_args()
    import torch
    import transformers
    p = make_block()
    _, feats = block_forward(p)
    golden = {"block": {"hidden": HIDDEN, "heads": HEADS,
                        "head_dim": HEAD_DIM, "ffn": FFN, "batch": BATCH,
                        "seq": SEQ, "seed": SEED},
              "versions": {"torch": torch.__version__,
                           "transformers": transformers.__version__,
                           "numpy": np.__version__},
              "configs": []}
    for bits, group in CONFIGS:
        final, info = run_reference(args.reference, p, bits, group)
        block_mse, per_linear = evaluate(p, final, feats)
        entry = {"bits": bits, "group_size": group,
                 "block_mse": block_mse, "linear_sq_err": per_linear,
                 "reference_seconds": round(info["seconds"], 3),
                 "forward_gap": info["forward_gap"]}
        golden["configs"].append(entry)
        print(json.dumps(entry))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(golden, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
