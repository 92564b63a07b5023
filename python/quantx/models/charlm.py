"""A Llama-architecture character-level language model.

The architecture follows Hugging Face's ``LlamaForCausalLM`` exactly (so the
same weights give the same logits there, and the GGUF exporter can follow
llama.cpp's conventions): token embedding, ``n_layers`` decoder blocks of
RMSNorm -> causal multi-head self-attention with rotary embeddings
("rotate half" layout) -> residual -> RMSNorm -> SwiGLU feed-forward ->
residual, a final RMSNorm and an untied output projection. No biases, no
grouped-query attention, no KV cache (a forward pass sees a whole sequence).

Every matrix has an input dimension that is a multiple of 256, so every GGUF
K-quant applies. The forward pass uses only operations the torch.fx importer
supports (embedding, linear, mul/add, mean, rsqrt, matmul, softmax, silu,
slicing, cat, reshape/transpose) and is traceable with ``torch.fx`` (with a
tracer that proxies buffers, ``proxy_buffer_attributes = True``, since the
RoPE tables and the causal mask are buffers sliced to the sequence length).
"""

import dataclasses
import json
import math

import torch
from torch import nn


@dataclasses.dataclass(frozen=True)
class LlamaConfig:
    vocab_size: int
    dim: int = 256
    n_layers: int = 2
    n_heads: int = 4
    ffn_dim: int = 768
    max_seq_len: int = 256
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> "LlamaConfig":
        return LlamaConfig(**json.loads(text))


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight, computed in fp32."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(variance + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    x1 = x[..., :half]
    x2 = x[..., half:]
    return torch.cat((-x2, x1), dim=-1)


def rope_tables(cfg: LlamaConfig):
    """cos/sin tables [max_seq_len, head_dim] in the "rotate half" layout."""
    inv_freq = 1.0 / (cfg.rope_theta ** (
        torch.arange(0, cfg.head_dim, 2, dtype=torch.float64) / cfg.head_dim))
    t = torch.arange(cfg.max_seq_len, dtype=torch.float64)
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().float(), emb.sin().float()


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.head_dim
        self.q_proj = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.k_proj = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.v_proj = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.o_proj = nn.Linear(cfg.dim, cfg.dim, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, d = x.shape[0], x.shape[1], x.shape[2]
        q = self.q_proj(x).reshape(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).reshape(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).reshape(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(self.head_dim))
        scores = scores + mask
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, d)
        return self.o_proj(out)


class FeedForward(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.up_proj = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.down_proj = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mlp = FeedForward(cfg)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class CharLlama(nn.Module):
    """tokens [B, T] (int64, T <= max_seq_len) -> logits [B, T, vocab] (fp32)."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.config = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        cos, sin = rope_tables(cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        mask = torch.full((cfg.max_seq_len, cfg.max_seq_len), float("-inf")).triu(1)
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, tokens):
        t = tokens.shape[1]
        cos = self.rope_cos[:t]
        sin = self.rope_sin[:t]
        mask = self.causal_mask[:t, :t]
        x = self.embed_tokens(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


class CharTokenizer:
    """Characters <-> ids. Ids 0..2 are <unk>, <s>, </s>; the rest are the
    characters of the training text in code point order."""

    SPECIALS = ("<unk>", "<s>", "</s>")
    UNK, BOS, EOS = 0, 1, 2

    def __init__(self, chars):
        self.tokens = list(self.SPECIALS) + list(chars)
        self._ids = {c: i for i, c in enumerate(self.tokens) if i >= len(self.SPECIALS)}

    @staticmethod
    def from_text(text: str) -> "CharTokenizer":
        return CharTokenizer(sorted(set(text)))

    def __len__(self):
        return len(self.tokens)

    def encode(self, text: str):
        return [self._ids.get(c, self.UNK) for c in text]

    def decode(self, ids):
        return "".join(self.tokens[i] if i >= len(self.SPECIALS) else "" for i in ids)

    def to_json(self) -> str:
        return json.dumps(self.tokens[len(self.SPECIALS):], ensure_ascii=False)

    @staticmethod
    def from_json(text: str) -> "CharTokenizer":
        return CharTokenizer(json.loads(text))
