"""The sweep and the filing at several sizes of the national set, and their slopes
(`make bench-scaling`, never by the test suite).

For each size in BENCH_SCALING_SIZES (30,000, 100,000 and 300,000 orders by default) a database
`sons_bench_scale<size>` is created, migrated, given the real dispositifs and the national data
set of that size (`manage.py seed_national`, deterministic), then `bench/sweep.py` (one round,
`BENCH_ROUNDS=1`) and `bench/payments.py` (one feedback round) run on it, each against its
floor as `make bench` runs them; the database is dropped afterwards. The environment is the one
`make bench` sets (DEBUG off, the Redis cache, INFO logging).

Printed: one row per size (objects moved by the sweep, sweep and floor seconds, statements, peak
memory; filing and feedback seconds for their 10,000 lines), then the slopes by least squares:
seconds of sweep (and of floor) per 1,000 objects moved, statements per object moved, and
seconds of filing per 100,000 orders of the national set (the filing's cost follows its own
lines, not the size of the set: its slope should be near zero). One JSON line at the end.
Exits 1 when a benchmark missed a target at some size, 2 when one could not run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import production_planner_sql

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SIZES = [int(s) for s in os.environ.get("BENCH_SCALING_SIZES", "30000,100000,300000").split(",")]
SERVER = "postgres://postgres@127.0.0.1:5432"


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql],
        check=True,
        capture_output=True,
    )


def manage(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def bench(env: dict, script: str) -> tuple[int, dict]:
    """Runs a benchmark script; its return code and its report (its last JSON line)."""
    done = subprocess.run(
        [PYTHON, f"bench/{script}"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    sys.stderr.write(done.stderr[-2000:])
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, (json.loads(lines[-1]) if lines else {})


def slope(points: list[tuple[float, float]]) -> float | None:
    """The least-squares slope of y on x (None with fewer than two distinct x)."""
    if len({x for x, _y in points}) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _y in points) / n
    mean_y = sum(y for _x, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _y in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def measure(size: int) -> dict:
    name = f"sons_bench_scale{size}"
    env = {
        **os.environ,
        "DATABASE_URL": f"{SERVER}/{name}",
        "BENCH_ROUNDS": os.environ.get("BENCH_ROUNDS", "1"),
        "BENCH_FEEDBACK_ROUNDS": os.environ.get("BENCH_FEEDBACK_ROUNDS", "1"),
    }
    psql(f"DROP DATABASE IF EXISTS {name}")
    psql(f"CREATE DATABASE {name}")
    psql(production_planner_sql(name))
    try:
        started = time.perf_counter()
        manage(env, "migrate", "-v0")
        manage(env, "load_dispositifs")
        manage(env, "seed_national", "--orders", str(size))
        seeded_s = time.perf_counter() - started
        sweep_rc, sweep = bench(env, "sweep.py")
        payments_rc, payments = bench(env, "payments.py")
    finally:
        psql(f"DROP DATABASE IF EXISTS {name}")
    return {
        "orders": size,
        "seeded_s": round(seeded_s, 1),
        "rc": {"sweep": sweep_rc, "payments": payments_rc},
        "moved": sweep.get("moved_total"),
        "sweep_s": median(sweep["sweep_s"]) if sweep.get("sweep_s") else None,
        "floor_s": median(sweep["floor_s"]) if sweep.get("floor_s") else None,
        "sweep_ratio": sweep.get("ratio_to_floor"),
        "statements": sweep.get("queries_full"),
        "statements_tenth": sweep.get("queries_tenth"),
        "sweep_peak_mb": sweep.get("rss_peak_mb"),
        "filing_s": payments.get("filing_s"),
        "feedback_s": payments.get("feedback_s"),
        "feedback_ratio": payments.get("feedback_ratio_to_floor"),
        "missed": {"sweep": sweep.get("missed"), "payments": payments.get("missed")},
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    rows = [measure(size) for size in SIZES]
    usable = [r for r in rows if r["moved"] and r["sweep_s"] is not None]
    per_thousand = [(r["moved"] / 1000, r["sweep_s"]) for r in usable]
    floor_per_thousand = [(r["moved"] / 1000, r["floor_s"]) for r in usable]
    statements = [(r["moved"], r["statements"]) for r in usable]
    filing = [(r["orders"] / 100_000, r["filing_s"]) for r in rows if r["filing_s"] is not None]
    slopes = {
        "sweep_s_per_1000_moved": slope(per_thousand),
        "floor_s_per_1000_moved": slope(floor_per_thousand),
        "statements_per_object_moved": slope(statements),
        "filing_s_per_100000_orders": slope(filing),
    }
    header = (
        "orders   moved   sweep s  floor s  ratio  stmts (tenth)  peak MB  filing s  feedback s"
        "  load"
    )
    print(header)  # noqa: T201 - the benchmark's output is its report
    for r in rows:
        print(  # noqa: T201
            f"{r['orders']:>7}  {r['moved'] or 0:>6}  {r['sweep_s'] or 0:>7.2f}  "
            f"{r['floor_s'] or 0:>7.2f}  {r['sweep_ratio'] or 0:>5.2f}  "
            f"{r['statements'] or 0:>5} ({r['statements_tenth'] or 0:>4})  "
            f"{r['sweep_peak_mb'] or 0:>7.1f}  {r['filing_s'] or 0:>8.2f}  "
            f"{r['feedback_s'] or 0:>10.2f}  {r['load_average_1min']:>4}"
        )
    for name, value in slopes.items():
        print(f"slope {name}: {'n/a' if value is None else round(value, 4)}")  # noqa: T201
    print(json.dumps({"rows": rows, "slopes": slopes}, ensure_ascii=False))  # noqa: T201
    codes = [code for r in rows for code in r["rc"].values()]
    if any(code not in (0, 1) for code in codes):
        return 2
    return 1 if any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
