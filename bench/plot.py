"""The ingress figure: accepted requests/s and p99 latency against concurrency, per variant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.util import RESULTS

STYLE = {
    "baseline": ("tab:gray", "--", "o"),
    "baseline-uvloop": ("tab:gray", ":", "s"),
    "ours": ("tab:blue", "-", "o"),
    "ours-uvloop": ("tab:green", "-", "s"),
    "ours-2proc": ("tab:purple", "-", "^"),
}


def ingress_png(document: dict[str, Any], target: Path | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = target or RESULTS / "ingress.png"
    summary: dict[str, dict[str, dict[str, Any]]] = document["summary"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 7.5), sharex=True)
    for variant, levels in summary.items():
        xs = sorted(int(level) for level in levels)
        rps = [levels[str(x)]["accepted_per_second"] for x in xs]
        p99 = [levels[str(x)]["latency_ms"]["p99"] for x in xs]
        color, line, marker = STYLE.get(variant, ("tab:red", "-", "x"))
        top.plot(xs, rps, color=color, linestyle=line, marker=marker, label=variant)
        bottom.plot(xs, p99, color=color, linestyle=line, marker=marker, label=variant)
    conditions = document["conditions"]
    config = document["config"]
    top.set_title(
        f"Ingress, acks=all, {config['body_bytes_mean']} B bodies, "
        f"{conditions['cores']} cores (server 1 core, wrk 1 core)",
        fontsize=10,
    )
    top.set_ylabel("accepted requests/s")
    bottom.set_ylabel("p99 latency to the 2xx (ms)")
    bottom.set_xlabel("concurrent connections")
    for axis in (top, bottom):
        axis.set_xscale("log", base=2)
        axis.grid(True, which="both", alpha=0.3)
    top.set_ylim(bottom=0)
    bottom.set_yscale("log")
    bottom.set_xticks(sorted({int(x) for levels in summary.values() for x in levels}))
    bottom.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    bottom.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    bottom.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    bottom.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    top.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target
