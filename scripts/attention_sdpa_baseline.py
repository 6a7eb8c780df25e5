#!/usr/bin/env python3
"""PyTorch decode-attention baseline for `kvtier-bench attention`.

Times torch.nn.functional.scaled_dot_product_attention on contiguous KV of the given shape
(q: [batch, q_heads, q_tokens, head_dim]; k, v: [batch, kv_heads, context, head_dim], GQA through
enable_gqa=True), random data, rotating over enough KV copies that repeated calls do not hit in
L2, median of CUDA-event-timed loops. Writes JSON with the card's name.

  python3 scripts/attention_sdpa_baseline.py --shapes 1x4096 1x32768 1x131072 32x4096 --json out.json
"""
import argparse
import json
import statistics
import sys

import torch
import torch.nn.functional as F


def time_shape(batch, context, q_tokens, q_heads, kv_heads, head_dim, dtype, reps):
    dev = torch.device("cuda")
    kv_bytes = 2 * batch * kv_heads * context * head_dim * torch.finfo(dtype).bits // 8
    l2 = torch.cuda.get_device_properties(dev).L2_cache_size
    copies = max(1, min(64, -(-4 * l2 // kv_bytes)))
    gen = torch.Generator(device=dev).manual_seed(0)

    def rnd(*shape, amp=1.0):
        return ((torch.rand(*shape, device=dev, generator=gen) * 2 - 1) * amp).to(dtype)

    q = rnd(batch, q_heads, q_tokens, head_dim, amp=2.0)
    kvs = [(rnd(batch, kv_heads, context, head_dim), rnd(batch, kv_heads, context, head_dim)) for _ in range(copies)]
    causal = q_tokens > 1
    scale = head_dim ** -0.5

    def call(i):
        k, v = kvs[i % copies]
        if causal:  # q token t sees keys < context - q_tokens + 1 + t (same as kvtier)
            mask = torch.ones(q_tokens, context, dtype=torch.bool, device=dev).tril(context - q_tokens)
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, enable_gqa=True)
        return F.scaled_dot_product_attention(q, k, v, scale=scale, enable_gqa=True)

    est_s = kv_bytes / 3e12
    iters = int(min(2000, max(20, 0.02 / max(est_s, 1e-6))))
    for i in range(5):
        call(i)
    torch.cuda.synchronize()
    per = []
    for _ in range(reps):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        for i in range(iters):
            call(i)
        e1.record()
        e1.synchronize()
        per.append(e0.elapsed_time(e1) * 1e-3 / iters)
    t = statistics.median(per)
    return {"batch": batch, "context": context, "q_tokens": q_tokens, "q_heads": q_heads, "kv_heads": kv_heads,
            "head_dim": head_dim, "dtype": str(dtype).replace("torch.", ""), "kv_bytes": kv_bytes,
            "time_us": t * 1e6, "gbps": kv_bytes / t / 1e9, "iters": iters, "kv_copies_rotated": copies}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", nargs="+", default=["1x4096", "1x32768", "1x131072", "32x4096"],
                    help="BATCHxCONTEXT pairs")
    ap.add_argument("--q-tokens", type=int, default=1)
    ap.add_argument("--q-heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "fp16"])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("attention_sdpa_baseline: no CUDA device")
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float16
    results = []
    for s in a.shapes:
        b, c = (int(x) for x in s.split("x"))
        r = time_shape(b, c, a.q_tokens, a.q_heads, a.kv_heads, a.head_dim, dtype, a.reps)
        results.append(r)
        print(f"sdpa batch {b:3d} context {c:7d}: {r['time_us']:9.1f} us  {r['gbps']:7.1f} GB/s", flush=True)
    doc = {"command": "attention_sdpa_baseline", "device": torch.cuda.get_device_name(),
           "torch": torch.__version__, "results": results}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
