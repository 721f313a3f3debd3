"""The results: one row per path, checked against its budget, written to
bench/results/<date>-<scale>.json and printed as a markdown table."""

from __future__ import annotations

import json
from pathlib import Path

from bench.budgets import MAX_QUERIES, Budget

RESULTS = Path(__file__).resolve().parent / "results"


def row(
    *,
    name: str,
    title: str,
    budget: Budget | None,
    load: dict | None = None,
    queries: int | None = None,
    baseline: dict | None = None,
    check_queries: bool = False,
    **figures,
) -> dict:
    """Flatten what was measured for one path and judge it."""
    result = {"name": name, "title": title, "queries": queries, **(load or {}), **figures}
    result.setdefault("peak_mb", (load or {}).get("server_peak_process_mb"))
    result["baseline"] = baseline
    result["ratio"] = figures.get("ratio", _ratio(result, baseline))
    failures = budget.failures(result) if budget else []
    if check_queries and queries is not None and queries > MAX_QUERIES:
        failures.append(f"{queries} queries")
    result["budget"] = budget.describe() if budget else ""
    result["failures"] = failures
    result["result"] = ("FAIL: " + "; ".join(failures)) if failures else ("pass" if budget else "")
    return result


def _ratio(result: dict, baseline: dict | None) -> float | None:
    """How many times slower than the database itself (higher is worse)."""
    if not baseline:
        return None
    kind = baseline.get("kind")
    if kind in ("replay", "rollback") and result.get("p50_ms") and baseline.get("p50_ms"):
        return round(result["p50_ms"] / baseline["p50_ms"], 1)
    if kind == "pgbench" and result.get("rps") and baseline.get("tps"):
        return round(baseline["tps"] / result["rps"], 1)
    if kind == "stream" and result.get("rows_per_s") and baseline.get("rows_per_s"):
        return round(baseline["rows_per_s"] / result["rows_per_s"], 1)
    return None


def _ms(value) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _cpu_text(item: dict) -> str:
    """web + DB + client, each in its place ("–" for one not measured), so that
    a missing database figure never passes the client's off as the database's."""
    parts = [item.get(key) for key in ("worker_cpu_ms", "db_cpu_ms", "driver_cpu_ms")]
    if parts[0] is None:
        return "–"
    return " + ".join("–" if part is None else f"{part:.2f}" for part in parts)


def _baseline_text(baseline: dict | None) -> str:
    if not baseline:
        return "–"
    kind = baseline.get("kind")
    if kind in ("replay", "rollback"):
        return f"{_ms(baseline['p50_ms'])} / {_ms(baseline['p95_ms'])} ms"
    if kind == "pgbench":
        return f"{baseline['tps']:,.0f} tx/s"
    if kind == "stream":
        return f"{baseline['rows_per_s']:,} rows/s"
    if kind == "copy":
        return f"COPY {baseline['live_table_seconds']:.1f} s"
    return "–"


def markdown(results: dict) -> str:
    lines = [
        "| path | p50 ms | p95 ms | p99 ms | req/s | queries/req | server peak MB "
        "| worker CPU % | CPU ms/req web + DB + client | DB p50 / p95 | ratio | budget | result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for item in results["paths"]:
        rps = item.get("rps")
        if item.get("rows_per_s"):
            rps_text = f"{item['rows_per_s']:,} rows/s"
        else:
            rps_text = "–" if rps is None else f"{rps:,.0f}"
        lines.append(
            "| "
            + " | ".join(
                [
                    item["title"],
                    _ms(item.get("p50_ms")),
                    _ms(item.get("p95_ms")),
                    _ms(item.get("p99_ms")),
                    rps_text,
                    "–" if item.get("queries") is None else str(item["queries"]),
                    "–" if item.get("peak_mb") is None else f"{item['peak_mb']:.0f}",
                    "/".join(map(str, item.get("worker_cpu_split") or [])) or "–",
                    _cpu_text(item),
                    _baseline_text(item.get("baseline")),
                    "–" if item.get("ratio") is None else f"{item['ratio']:g}×",
                    item["budget"] or "–",
                    item["result"] or "–",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def write(results: dict, folder: Path = RESULTS) -> Path:
    """<date>-<scale>.json and .md; a partial run (some paths or steps left
    out) as <date>-<scale>-partial, so that it never replaces a full run's."""
    folder.mkdir(exist_ok=True)
    stem = f"{results['date'][:10]}-{results['scale']}"
    if results.get("partial"):
        stem += "-partial"
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    (folder / f"{stem}.md").write_text(summary_text(results) + "\n")
    return path


def summary_text(results: dict) -> str:
    head = (
        f"Tracker benchmark, {results['date']} UTC: {results['scale']:,} issues, "
        f"{results['settings']['web_workers']} uvicorn workers, "
        f"{results['settings']['concurrency']} concurrent clients, "
        f"{results['settings']['duration']} s per path after {results['settings']['warmup']} s "
        f"warm-up; load average {results['machine']['load_before']} before, "
        f"{results['machine']['load_after']} after; {results['machine']['cpus']} CPUs"
    )
    loop = results["machine"].get("python_loop_ms")
    head += f"; a reference Python loop (2 M additions) took {loop:,} ms." if loop else "."
    sizes = results.get("page_size_queries") or {}
    constant = len(set(sizes.values())) <= 1
    tail = (
        f"SQL queries of the API list at page sizes {', '.join(map(str, sizes))}: "
        f"{', '.join(map(str, sizes.values()))} ({'constant' if constant else 'NOT constant'})."
        if sizes
        else ""
    )
    return "\n\n".join(part for part in (head, markdown(results), tail) if part)
