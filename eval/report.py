"""Evaluation reports: one JSON document, rendered as Markdown for files and as a table for terminals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table


def runs_table(report: dict[str, Any]) -> Table:
    """One column per run, one row per metric and latency percentile (fits narrow terminals)."""
    runs = report["runs"]
    title = f"{report.get('dataset')} (backend {report.get('backend', 'torch')})"
    table = Table("metric", *(run["mode"] for run in runs), title=title)
    for name in runs[0]["metrics"] if runs else []:
        table.add_row(name, *(f"{run['metrics'][name]:.4f}" for run in runs))
    for name in runs[0]["latency_ms"] if runs else []:
        table.add_row(f"{name} ms", *(f"{run['latency_ms'][name]:.1f}" for run in runs))
    return table


def to_markdown(report: dict[str, Any]) -> str:
    runs = report["runs"]
    metric_names = list(runs[0]["metrics"]) if runs else []
    latency_names = list(runs[0]["latency_ms"]) if runs else []
    header = ["mode", *metric_names, *(f"{p} ms" for p in latency_names)]
    lines = [
        f"# Evaluation: {report.get('dataset', '')}",
        "",
        f"split `{report.get('split')}`, {report.get('queries')} queries, collection `{report.get('collection')}`, "
        f"backend `{report.get('backend', 'torch')}`, depth k={report.get('k')}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for run in runs:
        cells = [f"`{run['mode']}`", *(f"{run['metrics'][m]:.4f}" for m in metric_names)]
        cells += [f"{run['latency_ms'][p]:.1f}" for p in latency_names]
        lines.append("| " + " | ".join(cells) + " |")
    if report.get("ingest"):
        lines += ["", "Ingest: " + ", ".join(f"{k}={v}" for k, v in report["ingest"].items() if k != "errors")]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], stem: Path) -> tuple[Path, Path]:
    """Write ``stem.json`` and ``stem.md``; returns both paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(to_markdown(report), encoding="utf-8")
    return json_path, md_path
