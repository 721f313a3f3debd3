"""The budgets of issue #7 (at 1,000,000 issues on 2 cores), and checking a
result against one. A budget names only what it limits; the rest is open."""

from __future__ import annotations

from dataclasses import dataclass

MAX_QUERIES = 8  # SQL queries per request, for any page


@dataclass(frozen=True)
class Budget:
    p95_ms: float | None = None
    min_rps: float | None = None
    peak_mb: float | None = None  # server (or importer) process, resident
    min_rows_per_s: float | None = None
    max_ratio: float | None = None  # Tracker's time / the database's own

    def describe(self) -> str:
        parts = []
        if self.p95_ms is not None:
            parts.append(f"p95 ≤ {self.p95_ms:g} ms")
        if self.min_rps is not None:
            parts.append(f"≥ {self.min_rps:g} req/s")
        if self.max_ratio is not None:
            parts.append(f"≤ {self.max_ratio:g}× DB")
        if self.min_rows_per_s is not None:
            parts.append(f"≥ {self.min_rows_per_s:,.0f} rows/s")
        if self.peak_mb is not None:
            parts.append(f"≤ {self.peak_mb:g} MB")
        return ", ".join(parts)

    def failures(self, result: dict) -> list[str]:
        """What the result misses, in words; empty when it meets the budget."""
        missed = []
        if result.get("errors"):
            missed.append(f"errors {result['errors']}")
        if self.p95_ms is not None and not _at_most(result.get("p95_ms"), self.p95_ms):
            missed.append(f"p95 {result.get('p95_ms')} ms")
        if self.min_rps is not None and not _at_least(result.get("rps"), self.min_rps):
            missed.append(f"{result.get('rps')} req/s")
        if self.max_ratio is not None and not _at_most(result.get("ratio"), self.max_ratio):
            missed.append(f"{result.get('ratio')}× DB")
        if self.min_rows_per_s is not None and not _at_least(
            result.get("rows_per_s"), self.min_rows_per_s
        ):
            missed.append(f"{result.get('rows_per_s')} rows/s")
        if self.peak_mb is not None and not _at_most(result.get("peak_mb"), self.peak_mb):
            missed.append(f"{result.get('peak_mb')} MB")
        return missed


def _at_most(value, limit) -> bool:
    return value is not None and value <= limit


def _at_least(value, limit) -> bool:
    return value is not None and value >= limit


LIST = Budget(p95_ms=40)
SEARCH = Budget(p95_ms=80)
PAGE = Budget(p95_ms=60)
DETAIL = Budget(p95_ms=15, min_rps=800)
WRITE = Budget(min_rps=300)
BULK = Budget(p95_ms=500)
IMPORT = Budget(max_ratio=1.5, peak_mb=250)
EXPORT = Budget(min_rows_per_s=50_000, peak_mb=150)
STATS = Budget(p95_ms=2000)
REPORT = Budget(p95_ms=300)
REPORT_HISTORY = Budget(p95_ms=1000)
