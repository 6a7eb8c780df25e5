#!/usr/bin/env python3
"""Plots a `kvtier-bench decode --sweep --json FILE` result: tokens/s and slowdown against
context, one line per GPU budget (a fraction of the KV kept on the GPU; all; min = sink + window)
and CPU share.

usage: python3 scripts/plot_decode_sweep.py RESULT.json OUT.png
"""
import json
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    lines = defaultdict(list)
    for r in doc["runs"]:
        if r["depth"] != max(x["depth"] for x in doc["runs"]):
            continue
        label = f"GPU budget {r['gpu_budget']}, CPU share {r['cpu_share']}"
        lines[label].append(r)
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 5))
    for label, runs in sorted(lines.items()):
        runs.sort(key=lambda r: r["context"])
        ctx = [r["context"] for r in runs]
        a.plot(ctx, [r["tokens_per_s"] for r in runs], marker="o", label=label)
        slow = [(r["context"], r["slowdown_vs_all_gpu"]) for r in runs if r["slowdown_vs_all_gpu"] is not None]
        if slow:
            b.plot([c for c, _ in slow], [s for _, s in slow], marker="o", label=label)
    card = doc.get("device", {}).get("name", "?")
    g = doc["geometry"]
    title = f"{g['name']}, batch {doc['batch']}, {card}"
    for ax, ylabel in ((a, "tokens / s"), (b, "slowdown vs all-GPU KV")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("context (tokens)")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.set_title(title)
    b.axhline(2.0, color="gray", linestyle="--", linewidth=1)
    a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=120)
    print(f"wrote {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
