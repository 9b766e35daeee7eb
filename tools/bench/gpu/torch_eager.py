#!/usr/bin/env python3
"""The peer of llmos-gpu-bench: the same Llama (RMSNorm, interleaved rotary, causal attention,
SwiGLU, tied classifier) in plain PyTorch eager, trained with AdamW under bf16 autocast on random
tokens, then decoding greedily from a 16-token prompt with a preallocated KV cache at batch 1 and
32 (float32, as llmos decodes). Attention uses scaled_dot_product_attention where the torch has
it: what a PyTorch user would write. Prints progress, then its figures as one JSON line."""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(seq_len, head_dim, theta=10000.0):
    freqs = 1.0 / theta ** (torch.arange(0, head_dim, 2).float() / head_dim)
    angles = torch.outer(torch.arange(seq_len).float(), freqs)
    return angles.cos(), angles.sin()


def rotate(x, cos, sin, offset):
    b, t, n, d = x.shape
    c = cos[offset:offset + t].view(1, t, 1, d // 2)
    s = sin[offset:offset + t].view(1, t, 1, d // 2)
    pairs = x.view(b, t, n, d // 2, 2)
    x0, x1 = pairs[..., 0], pairs[..., 1]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), -1).view(b, t, n, d)


def attention(q, k, v, causal):
    # [B, H, T, hd] against [B, H, L, hd]
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.size(-1))
    if causal:
        t, length = q.size(2), k.size(2)
        mask = torch.ones(t, length, dtype=torch.bool, device=q.device).triu(length - t + 1)
        scores = scores.masked_fill(mask, float("-inf"))
    return scores.softmax(-1) @ v


class Block(nn.Module):
    def __init__(self, dim, heads, ff):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.attn_norm, self.ffn_norm = RMSNorm(dim), RMSNorm(dim)
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wk = nn.Linear(dim, dim, bias=False)
        self.wv = nn.Linear(dim, dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)
        self.w1 = nn.Linear(dim, ff, bias=False)
        self.w2 = nn.Linear(ff, dim, bias=False)
        self.w3 = nn.Linear(dim, ff, bias=False)

    def forward(self, x, cos, sin, cache=None, offset=0):
        b, t, _ = x.shape
        h = self.attn_norm(x)
        q = rotate(self.wq(h).view(b, t, self.heads, self.hd), cos, sin, offset)
        k = rotate(self.wk(h).view(b, t, self.heads, self.hd), cos, sin, offset)
        v = self.wv(h).view(b, t, self.heads, self.hd)
        if cache is not None:
            ck, cv = cache
            ck[:, offset:offset + t] = k
            cv[:, offset:offset + t] = v
            k, v = ck[:, :offset + t], cv[:, :offset + t]
        y = attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=t > 1)
        x = x + self.wo(y.transpose(1, 2).reshape(b, t, -1))
        f = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(f)) * self.w3(f))


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.emb = nn.Embedding(a.vocab, a.dim)
        nn.init.normal_(self.emb.weight, std=0.02)
        self.blocks = nn.ModuleList(Block(a.dim, a.heads, a.ff) for _ in range(a.layers))
        self.norm = RMSNorm(a.dim)
        cos, sin = rope_tables(a.context, a.dim // a.heads)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def forward(self, tokens, caches=None, offset=0):
        h = self.emb(tokens)
        for i, blk in enumerate(self.blocks):
            h = blk(h, self.cos, self.sin, None if caches is None else caches[i], offset)
        return self.norm(h) @ self.emb.weight.t()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def decode_tps(model, a, device, batch, prompt):
    hd = a.dim // a.heads
    caches = [(torch.zeros(batch, a.context, a.heads, hd, device=device),
               torch.zeros(batch, a.context, a.heads, hd, device=device)) for _ in range(a.layers)]
    tokens = prompt[:1].expand(batch, -1).contiguous()
    with torch.inference_mode():
        logits = model(tokens, caches, 0)
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        sync(device)
        start = time.perf_counter()
        for i in range(a.decode):
            logits = model(nxt, caches, tokens.size(1) + i)
            nxt = logits[:, -1].argmax(-1, keepdim=True)
        sync(device)
        return batch * a.decode / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    for name, default in [("layers", 12), ("dim", 768), ("heads", 12), ("ff", 2048),
                          ("context", 1024), ("vocab", 32768), ("batch", 8), ("steps", 10),
                          ("decode", 64)]:
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--precision", default="bf16")
    a = p.parse_args()
    device = torch.device("cuda:0" if a.device == "cuda" else "cpu")
    torch.manual_seed(7)
    model = Llama(a).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.0)
    data = torch.randint(0, a.vocab, (a.batch, a.context), device=device)
    dtype = torch.bfloat16 if a.precision == "bf16" else torch.float32

    def step():
        with torch.autocast(device_type=device.type, dtype=dtype, enabled=a.precision == "bf16"):
            logits = model(data[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, a.vocab).float(), data[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()  # llmos reads every step's loss too

    for _ in range(2):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    sync(device)
    train_tps = a.steps * a.batch * (a.context - 1) / (time.perf_counter() - start)
    print(f"torch {torch.__version__}: train {train_tps:.0f} tokens/s", flush=True)
    model.eval()
    prompt = data[:, :16]
    b1 = decode_tps(model, a, device, 1, prompt)
    b32 = decode_tps(model, a, device, 32, prompt)
    print(f"torch: decode b1 {b1:.1f} tokens/s, b32 {b32:.1f} tokens/s", flush=True)
    print(json.dumps({"torch_version": torch.__version__, "train_tps_torch": train_tps,
                      "decode_tps_b1_torch": b1, "decode_tps_b32_torch": b32}))


if __name__ == "__main__":
    main()
