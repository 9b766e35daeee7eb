#!/usr/bin/env python3
"""The Python PyTorch peer of llmos-bench training: the same bag-of-embeddings classifier or
GPT model (same layers and sizes as llmos's architectures), trained with AdamW and gradient
clipping on the batches llmos-bench wrote, 1 thread. Prints samples per second."""
import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Bag(nn.Module):
    def __init__(self, vocab, embed, hidden, classes, pad, dropout):
        super().__init__()
        self.pad, self.dropout = pad, dropout
        self.emb = nn.Embedding(vocab, embed)
        self.hidden = nn.Linear(embed, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        keep = (x != self.pad).float().unsqueeze(-1)
        pooled = (self.emb(x) * keep).sum(1) / keep.sum(1).clamp_min(1.0)
        h = torch.relu(self.hidden(pooled))
        return self.head(F.dropout(h, self.dropout, self.training))


class Block(nn.Module):
    def __init__(self, dim, heads, ff, dropout):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.ff1, self.ff2 = nn.Linear(dim, ff), nn.Linear(ff, dim)

    def attn(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        s = q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)
        s = s.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), -1e9)
        w = F.dropout(torch.softmax(s, -1), self.dropout, self.training)
        return self.out((w @ v).transpose(1, 2).reshape(b, t, d))

    def forward(self, x):
        h = x + F.dropout(self.attn(self.ln1(x)), self.dropout, self.training)
        return h + F.dropout(self.ff2(F.gelu(self.ff1(self.ln2(h)))), self.dropout, self.training)


class GPT(nn.Module):
    def __init__(self, vocab, embed, layers, heads, ff, max_length, dropout):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, embed), nn.Embedding(max_length, embed)
        self.blocks = nn.ModuleList(Block(embed, heads, ff, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(embed)
        self.head = nn.Linear(embed, vocab, bias=False)

    def forward(self, x):
        h = self.tok(x) + self.pos(torch.arange(x.shape[1])).unsqueeze(0)
        for b in self.blocks:
            h = b(h)
        return self.head(self.norm(h))


def main():
    p = argparse.ArgumentParser()
    for name in ["file", "arch"]:
        p.add_argument("--" + name, required=True)
    for name in ["steps", "embed", "hidden", "layers", "heads", "ff", "max-length"]:
        p.add_argument("--" + name, type=int, required=True)
    p.add_argument("--dropout", type=float, required=True)
    p.add_argument("--lr", type=float, required=True)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1)
    with open(a.file, "rb") as f:
        h = json.loads(f.readline())
        n, b, length = h["batches"], h["batch"], h["length"]
        tokens = np.frombuffer(f.read(n * b * length * 4), dtype=np.int32).reshape(n, b, length)
        labels = np.frombuffer(f.read(n * b * 4), dtype=np.int32).reshape(n, b)
    xs = [torch.from_numpy(tokens[i].astype(np.int64)) for i in range(n)]
    if a.arch == "gpt":
        model = GPT(h["vocab"], a.embed, a.layers, a.heads, a.ff, a.max_length, a.dropout)
        data = []
        for x in xs:
            x = x[:, : a.max_length]
            t = x[:, 1:].clone()
            t[t == h["pad"]] = -100
            data.append((x[:, :-1], t))
    else:
        model = Bag(h["vocab"], a.embed, a.hidden, h["classes"], h["pad"], a.dropout)
        data = [(x, torch.from_numpy(labels[i].astype(np.int64))) for i, x in enumerate(xs)]
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    model.train()
    start = time.perf_counter()
    samples = 0
    warmup = max(3, a.steps // 10)  # untimed steps first, as the C++ side does
    for s in range(-warmup, a.steps):
        if s == 0:
            start = time.perf_counter()
        x, y = data[s % len(data)]
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if s >= 0:
            samples += x.shape[0]
    print(samples / (time.perf_counter() - start))


if __name__ == "__main__":
    main()
