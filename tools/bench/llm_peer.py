#!/usr/bin/python3
"""The PyTorch peer of `llmos-bench llm`: a llama2.c checkpoint run the way a Python user would
write it with PyTorch (torch ops, a preallocated KV cache, greedy argmax), timed for decode and
prefill. Prints one JSON object: the greedy tokens of the first decode run (the bench compares
them with llmos's and with llama2.c's published text), the tokens/s of every decode and
prefill run, or {"skipped": reason} when torch or numpy is missing."""
import argparse
import json
import math
import struct
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # reported by the bench as a skipped peer, not a failure
    print(json.dumps({"skipped": f"{sys.executable} cannot import {e.name}"}))
    sys.exit(0)


def read_checkpoint(path):
    """llama2.c's legacy format: 7 int32 header, float32 tensors layer-major, the RoPE tables,
    then the classifier when it is not shared (negative vocab_size)."""
    with open(path, "rb") as f:
        dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("7i", f.read(28))
        data = np.frombuffer(f.read(), dtype=np.float32)
    shared = vocab > 0
    vocab = abs(vocab)
    head_dim = dim // heads
    kv_dim = dim * kv_heads // heads
    offset = 0

    def take(*shape):
        nonlocal offset
        n = math.prod(shape)
        t = torch.from_numpy(data[offset:offset + n].copy()).reshape(shape)
        offset += n
        return t

    w = {"emb": take(vocab, dim), "attn_norm": take(layers, dim), "wq": take(layers, dim, dim),
         "wk": take(layers, kv_dim, dim), "wv": take(layers, kv_dim, dim),
         "wo": take(layers, dim, dim), "ffn_norm": take(layers, dim),
         "w1": take(layers, hidden, dim), "w2": take(layers, dim, hidden),
         "w3": take(layers, hidden, dim), "final_norm": take(dim)}
    offset += seq_len * head_dim  # the two legacy RoPE tables, unused
    w["cls"] = w["emb"] if shared else take(vocab, dim)
    cfg = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads,
               vocab=vocab, seq_len=seq_len, head_dim=head_dim)
    return cfg, w


class Llama:
    def __init__(self, cfg, w, eps=1e-5, theta=10000.0):
        self.c, self.w, self.eps = cfg, w, eps
        hd = cfg["head_dim"]
        freqs = theta ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
        angles = torch.outer(torch.arange(cfg["seq_len"], dtype=torch.float32), freqs)
        self.cos, self.sin = angles.cos(), angles.sin()  # [seq_len, hd/2]
        # The whole context's keys and values, written in place step by step.
        shape = (cfg["layers"], cfg["seq_len"], cfg["kv_heads"], hd)
        self.k_cache = torch.zeros(shape)
        self.v_cache = torch.zeros(shape)

    def rms(self, x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    def rope(self, x, pos):
        # Interleaved pairs (2i, 2i+1) of each head rotate together (llama2.c's layout).
        t = x.shape[0]
        cos = self.cos[pos:pos + t].unsqueeze(1)
        sin = self.sin[pos:pos + t].unsqueeze(1)
        x = x.reshape(*x.shape[:-1], -1, 2)
        x0, x1 = x[..., 0], x[..., 1]
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), -1).flatten(-2)

    def forward(self, tokens, pos):
        """Logits of the last of `tokens` (placed at positions pos, pos+1, ...)."""
        c, w = self.c, self.w
        t, hd, h, kvh = len(tokens), c["head_dim"], c["heads"], c["kv_heads"]
        end = pos + t
        x = w["emb"][torch.tensor(tokens)]
        mask = None
        if t > 1:  # causal: query i sees keys up to pos + i
            mask = torch.full((t, end), float("-inf")).triu(pos + 1)
        for l in range(c["layers"]):
            a = self.rms(x, w["attn_norm"][l])
            q = self.rope(F.linear(a, w["wq"][l]).view(t, h, hd), pos)
            self.k_cache[l, pos:end] = self.rope(F.linear(a, w["wk"][l]).view(t, kvh, hd), pos)
            self.v_cache[l, pos:end] = F.linear(a, w["wv"][l]).view(t, kvh, hd)
            k = self.k_cache[l, :end].repeat_interleave(h // kvh, dim=1)
            v = self.v_cache[l, :end].repeat_interleave(h // kvh, dim=1)
            scores = torch.einsum("thd,shd->hts", q, k) / math.sqrt(hd)
            if mask is not None:
                scores = scores + mask
            att = torch.einsum("hts,shd->thd", scores.softmax(-1), v).reshape(t, -1)
            x = x + F.linear(att, w["wo"][l])
            f = self.rms(x, w["ffn_norm"][l])
            x = x + F.linear(F.silu(F.linear(f, w["w1"][l])) * F.linear(f, w["w3"][l]), w["w2"][l])
        return F.linear(self.rms(x[-1], w["final_norm"]), w["cls"])

    def greedy(self, prompt, n, eos):
        out = []
        logits = self.forward(prompt, 0)
        pos = len(prompt)
        while len(out) < n:
            token = int(logits.argmax())
            if token == eos:
                break
            out.append(token)
            if len(out) == n or pos >= self.c["seq_len"]:
                break
            logits = self.forward([token], pos)
            pos += 1
        return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--decode-tokens", type=int, default=256)
    p.add_argument("--prompt", required=True, help="comma-separated token ids (BOS included)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--prefill-runs", type=int, default=10)
    p.add_argument("--bos", type=int, default=1)
    p.add_argument("--eos", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    cfg, w = read_checkpoint(a.checkpoint)
    model = Llama(cfg, w)
    prompt = [int(x) for x in a.prompt.split(",")]
    with torch.inference_mode():
        model.greedy([a.bos], 8, a.eos)  # untimed warm-up: allocator and thread pool settle
        tokens, decode = None, []
        for _ in range(a.runs):
            start = time.perf_counter()
            out = model.greedy([a.bos], a.decode_tokens, a.eos)
            decode.append(len(out) / (time.perf_counter() - start))
            tokens = tokens or out
        prefill = []
        for _ in range(a.prefill_runs):
            start = time.perf_counter()
            int(model.forward(prompt, 0).argmax())  # the prompt, and the first token chosen
            prefill.append(len(prompt) / (time.perf_counter() - start))
    print(json.dumps({"tokens": tokens, "decode_runs": decode, "prefill_runs": prefill,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
