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


def _mb(memory: dict) -> str:
    """RSS (PSS) in MB: see bench/peer_common.py's memory_mb for why both."""
    return f"{memory['rss']:.0f} ({memory['pss']:.0f})" if memory else ""


def print_report(  # noqa: PLR0913
    args: argparse.Namespace, agents: dict, results: Results, served: dict, memory: dict, truth, truth_f  # noqa: ANN001
) -> None:
    info = {name: agent.info for name, agent in agents.items()}
    load = {name: f"{i['load_vps']:,.0f}" for name, i in info.items()}
    print(f"\n{len(truth)} queries ({len(truth_f)} filtered), ef {args.ef}, {args.rounds} interleaved rounds, medians; "
          f"latentspace serve --workers {args.workers}\n")
    print("| system | load vec/s | RSS MB (PSS) | unfiltered QPS (recall@10) | 1%-filter QPS (recall) | "
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
          f"{_mb(memory['vector_only'])} 1 worker / {_mb(served.get(ls))} {args.workers} workers | "
          f"{_qps(results, (ls, 'engine'), truth)} | {_qps(results, (ls, 'engine_filtered'), truth_f)} | "
          f"{_qps(results, (ls, 'http1'), truth, p50=True)} | {_qps(results, (ls, 'http8'), truth)} | "
          f"{_qps(results, (ls, 'http_filtered'), truth_f)} |")
    if "chroma" in info:
        print(f"| Chroma {info['chroma'].get('version', '')} embedded / `chroma run` | {load['chroma']} | "
              f"{info['chroma']['rss_mb']:.0f} / {_mb(served.get('chroma'))} | "
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
    _print_memory(args, served, memory)


def _print_memory(args: argparse.Namespace, served: dict, memory: dict) -> None:
    """Memory against Chroma's server: PSS (shared pages counted once) is what the target is judged on."""
    ours, chroma, alone = served.get("latentspace"), served.get("chroma"), memory["vector_only"]
    if ours and chroma:
        print(f"- memory of a vector-only server vs Chroma's server ({chroma['rss']:.0f} MB RSS, {chroma['pss']:.0f} "
              f"MB PSS): 1 worker PSS {alone['pss'] / chroma['pss']:.2f}x (RSS {alone['rss'] / chroma['rss']:.2f}x); "
              f"{args.workers} workers, all {ours['processes']} processes: PSS {ours['pss'] / chroma['pss']:.2f}x "
              f"({ours['pss']:.0f} MB), RSS summed {ours['rss'] / chroma['rss']:.2f}x ({ours['rss']:.0f} MB, "
              f"pages the forked workers share counted once per process)")
    after = memory["after_text_query"]
    print(f"- a 1-worker server: {_mb(alone)} MB RSS (PSS) after loading and vector searches, {_mb(after)} MB "
          f"after its first text query")
