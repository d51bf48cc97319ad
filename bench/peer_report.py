"""The markdown table and the ratios bench/peers.py prints (issue 17's columns)."""

from __future__ import annotations

import argparse

import numpy as np

from bench import peer_common as pc

Results = dict[tuple[str, str], dict]


def _qps(results: Results, key: tuple[str, str], truth: np.ndarray | None = None, p50: bool = False) -> str:
    row = results.get(key)
    if row is None:
        return ""
    text = f"{row['qps']:,.1f}"
    if truth is not None:
        text += f" ({pc.recall(row['found'][: len(truth)], truth):.3f})"
    if p50:
        text += f" ({row['p50_ms']:.2f} ms)"
    if row.get("errors"):
        text += f" [{row['errors']} errors]"
    return text


def _ratio(results: Results, a: tuple[str, str], b: tuple[str, str], field: str = "qps") -> str:
    if a not in results or b not in results:
        return "n/a"
    return f"{results[a][field] / results[b][field]:.2f}x"


def print_report(  # noqa: PLR0913
    args: argparse.Namespace, agents: dict, results: Results, rss: dict, memory: dict, truth, truth_f  # noqa: ANN001
) -> None:
    info = {name: agent.info for name, agent in agents.items()}
    load = {name: f"{i['load_vps']:,.0f}" for name, i in info.items()}
    print(f"\n{len(truth)} queries ({len(truth_f)} filtered), ef {args.ef}, {args.rounds} interleaved rounds, medians; "
          f"latentspace serve --workers {args.workers}\n")
    print("| system | load vec/s | RSS MB | unfiltered QPS (recall@10) | 1%-filter QPS (recall) | "
          "HTTP QPS 1 client (p50) | HTTP QPS 8 clients | HTTP 1%-filter QPS |")
    print("|---|---|---|---|---|---|---|---|")
    if "hnswlib" in info:
        print(f"| raw hnswlib (ef {args.ef}) | {load['hnswlib']} | {info['hnswlib']['rss_mb']:.0f} | "
              f"{_qps(results, ('hnswlib', 'index'), truth)} | "
              f"{_qps(results, ('hnswlib', 'engine_filtered'), truth_f)} | | | |")
    ls = "latentspace"
    print(f"| latentspace VectorIndex only | {load.get(ls, '')} | | {_qps(results, (ls, 'index'), truth)} | "
          f"{_qps(results, (ls, 'index_filtered'), truth_f)} | | | |")
    print(f"| latentspace `Engine.search` (hydrated) / `serve` | {load.get(ls, '')} | "
          f"{memory['vector_only_mb']:.0f} (1 worker) / {rss.get(ls, 0):.0f} ({args.workers} workers) | "
          f"{_qps(results, (ls, 'engine'), truth)} | {_qps(results, (ls, 'engine_filtered'), truth_f)} | "
          f"{_qps(results, (ls, 'http1'), truth, p50=True)} | {_qps(results, (ls, 'http8'), truth)} | "
          f"{_qps(results, (ls, 'http_filtered'), truth_f)} |")
    if "chroma" in info:
        print(f"| Chroma {info['chroma'].get('version', '')} embedded / `chroma run` | {load['chroma']} | "
              f"{info['chroma']['rss_mb']:.0f} / {rss.get('chroma', 0):.0f} | "
              f"{_qps(results, ('chroma', 'engine'), truth)} | "
              f"{_qps(results, ('chroma', 'engine_filtered'), truth_f)} | "
              f"{_qps(results, ('chroma', 'http1'), truth, p50=True)} | {_qps(results, ('chroma', 'http8'), truth)} | "
              f"{_qps(results, ('chroma', 'http_filtered'), truth_f)} |")
    engine_p50 = results.get((ls, "engine"), {}).get("p50_ms")
    http_p50 = results.get((ls, "http1"), {}).get("p50_ms")
    print("\nratios (same run):")
    print(f"- HTTP QPS vs Chroma's server, 1 client: {_ratio(results, (ls, 'http1'), ('chroma', 'http1'))}; "
          f"8 clients: {_ratio(results, (ls, 'http8'), ('chroma', 'http8'))}; "
          f"1% filter: {_ratio(results, (ls, 'http_filtered'), ('chroma', 'http_filtered'))}")
    if engine_p50 and http_p50:
        print(f"- our HTTP p50 / in-process Engine.search p50: {http_p50 / engine_p50:.2f}x "
              f"({http_p50:.2f} ms / {engine_p50:.2f} ms)")
    print(f"- Engine.search (hydrated) vs raw hnswlib QPS: {_ratio(results, (ls, 'engine'), ('hnswlib', 'index'))}")
    print(f"- in-process vs Chroma embedded: unfiltered {_ratio(results, (ls, 'engine'), ('chroma', 'engine'))}, "
          f"1% filter {_ratio(results, (ls, 'engine_filtered'), ('chroma', 'engine_filtered'))}")
    if rss.get("chroma"):
        print(f"- RSS of a vector-only 1-worker server vs Chroma's server: "
              f"{memory['vector_only_mb'] / rss['chroma']:.2f}x; {args.workers} workers (all processes): "
              f"{rss[ls] / rss['chroma']:.2f}x")
    print(f"- RSS of a 1-worker server: {memory['vector_only_mb']:.0f} MB after loading and vector searches, "
          f"{memory['after_text_query_mb']:.0f} MB after its first text query")
