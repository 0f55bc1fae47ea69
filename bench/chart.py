"""docs/bench-cost.svg: AWS cost per 1,000 images by design and provider latency, by line item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.usage import Usage

# Line items grouped as the chart shows them (the report's tables keep each one).
GROUPS = {
    "Step Functions transitions": ("state_transitions",),
    "Distributed Map child starts": ("child_starts",),
    "Lambda (requests, GB-s, INIT)": (
        "lambda_requests",
        "lambda_gb_seconds",
        "lambda_gb_seconds_x86",
        "lambda_init_gb_seconds",
    ),
    "DynamoDB": ("dynamodb_read_units", "dynamodb_write_units"),
    "SQS, SNS, API, S3, Secrets": (
        "sqs_requests",
        "sns_publishes",
        "api_requests",
        "s3_writes",
        "s3_reads",
        "secrets_calls",
    ),
    "CloudWatch Logs": ("log_gb",),
    "X-Ray": ("xray_traces",),
}


def bars(summ: dict[str, Any]) -> list[tuple[str, float, dict[str, float]]]:
    """(design, latency s, $ per 1,000 images by group) for every priced result of the summary."""
    out = []
    for key, entry in summ.get("costs", {}).items():
        mode, latency = key.rsplit("-", 1)
        out.append((f"genjobs {mode}", float(latency), entry["usage_per_image"]))
    for entry in summ.get("designs", []):
        out.append((entry["design"], float(entry["latency_s"]), entry["usage_per_image"]))
    rows = []
    for design, latency, per_image in out:
        costs = Usage.of(per_image).costs()
        rows.append(
            (design, latency, {g: sum(costs[i] for i in items) * 1000 for g, items in GROUPS.items()})
        )
    return sorted(rows, key=lambda r: (r[1], r[0]))


def render(summ: dict[str, Any], path: Path) -> bool:
    """Draws the chart to `path`; False (and nothing written) when no cost result exists."""
    rows = bars(summ)
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A stable SVG for the same figures (no date, fixed ids), so a re-render is not a diff.
    plt.rcParams["svg.hashsalt"] = "genjobs-bench"
    latencies = sorted({latency for _, latency, _ in rows})
    # One panel per latency, each on its own scale: a 10-minute poll loop would flatten the rest.
    fig, axes = plt.subplots(
        len(latencies),
        1,
        figsize=(10, 0.45 * len(rows) + 1.3 * len(latencies) + 1.4),
        squeeze=False,
        layout="constrained",
    )
    for ax, latency in zip(axes[:, 0], latencies, strict=True):
        panel = [r for r in rows if r[1] == latency]
        labels = [design for design, _, _ in panel]
        left = [0.0] * len(panel)
        for group in GROUPS:
            widths = [values[group] for _, _, values in panel]
            ax.barh(labels, widths, left=left, label=group)
            left = [a + b for a, b in zip(left, widths, strict=True)]
        for y, total in enumerate(left):
            ax.text(total, y, f" ${total:.3f}", va="center", fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, max(left) * 1.25 or 1)
        ax.set_title(f"provider latency {latency:g} s", fontsize=10, loc="left")
    axes[-1, 0].set_xlabel("AWS cost per 1,000 images (USD, us-east-1 list prices)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8)
    fig.suptitle("Cost per 1,000 images by design and provider latency, by line item")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return True
