"""Run the benchmarks and write bench/RESULTS.md.

    python -m bench.run [--scale 1] [--parts pages,http,import,reports,maps] [--output bench/RESULTS.md]

Pages are measured at the demo size (demo data + scale 0.01) and at the large size (demo data + --scale);
HTTP and PDF reports run against the large database.  The default scale 1 is the full large company
(2,000 users, 100,000 customers, 500,000 activities, 1,000,000 audit rows); the whole run takes about
7 minutes on a quiet 2-core machine (about 2 of them to build the data). --scale 0.1 is quicker.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

PARTS = ("pages", "http", "import", "reports", "maps")
DEMO_SCALE = 0.01
DEFAULT_SCALE = 1.0


def _table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _value_rows(rows: list[dict]) -> list[list]:
    return [[row["name"], row["value"], row.get("unit", ""), row.get("goal", "—") or "—"] for row in rows]


def _warm_statements(row: dict) -> str:
    return "1 (kept page)" if row.get("kept_page") and row["statements"] == 0 else str(row["statements"])


def pages_section(small: list[dict], large: list[dict], scale: float) -> str:
    rows = []
    for before, after in zip(small, large):
        same = "yes" if (before["statements"], before["statements_computing"]) == \
            (after["statements"], after["statements_computing"]) else "**no**"
        fast = after["p95_ms"] <= after["goal_ms"]
        rows.append([before["label"], f"`{after['path']}`", after["user"], after["status"],
                     f"{_warm_statements(before)} / {before['statements_computing']}",
                     f"{_warm_statements(after)} / {after['statements_computing']}", same,
                     f"{before['median_ms']:.0f}", f"{before['p95_ms']:.0f}",
                     f"{after['median_ms']:.0f}", f"{after['p95_ms']:.0f}" + ("" if fast else " ✗"),
                     f"≤ {after['goal_ms']} ms", f"{after['computing_ms']:.0f}", after["runs"]])
    return _table(["page", "path", "as", "HTTP", "stmts demo (warm / uncached)", f"stmts ×{scale} (warm / uncached)",
                   "same count", "median demo ms", "p95 demo ms", f"median ×{scale} ms", f"p95 ×{scale} ms",
                   "goal p95", f"uncached ×{scale} ms", f"runs ×{scale}"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description="Rollout Desk benchmarks")
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", DEFAULT_SCALE)))
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--output", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument("--workdir", default=None, help="keep the generated databases here")
    parser.add_argument("--load-note", default=os.environ.get("BENCH_LOAD_NOTE", ""),
                        help="how busy the machine was, written into RESULTS.md")
    args = parser.parse_args()
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="rollout-bench-"))
    started = time.perf_counter()
    load_before = os.getloadavg()
    sections: list[str] = []
    large_app = None
    large_instance = workdir / f"large-{args.scale}"

    from bench import generate
    if {"pages", "http", "reports"} & set(parts):
        print(f"building the large database (scale {args.scale}) in {large_instance}", flush=True)
        build_started = time.perf_counter()
        large_app = generate.build(large_instance, args.scale)
        build_seconds = time.perf_counter() - build_started
        counts = generate.counts_for(args.scale)
        sections.append(f"## Data\n\nLarge size: demo data + generator at scale {args.scale} "
                        f"({', '.join(f'{key} {value:,}' for key, value in counts.items())}); built in "
                        f"{build_seconds:.0f} s on {generate_database_name()}. Demo size: demo data + scale {DEMO_SCALE}.")

    if "pages" in parts:
        from bench import pages
        print("pages at the large size", flush=True)
        large_rows = pages.run(large_app)
        print(f"building the demo-size database (scale {DEMO_SCALE})", flush=True)
        small_app = generate.build(workdir / "demo", DEMO_SCALE)
        print("pages at the demo size", flush=True)
        small_rows = pages.run(small_app)
        # Later parts use the large database again.
        os.environ["ROLLOUT_INSTANCE"] = str(large_instance)
        sections.append("## 2. Pages (in process, Flask test client, warm)\n\n"
                        "Goal: the same statement count at both sizes; p95 ≤ 50 ms per page on SQLite at the "
                        "large size (≤ 100 ms the dashboard). ✗ marks a p95 over its goal. Repeated views reuse "
                        "figures and report bodies computed since the last write (rollout/figures.py); a "
                        "\"kept page\" is a report page served whole to the same person, after one read of "
                        "the data version and their unread count; "
                        "\"uncached\" is one view right after the cache is emptied, what the first view after "
                        "a write costs.\n\n"
                        + pages_section(small_rows, large_rows, args.scale))

    if "http" in parts:
        from bench import http
        print("HTTP throughput", flush=True)
        rows = http.run(large_instance)
        sections.append("## 3. HTTP throughput (gunicorn + wrk on 127.0.0.1)\n\n"
                        + _table(["measure", "value", "unit", "goal"], _value_rows(rows)))

    if "import" in parts:
        print("import benchmark", flush=True)
        # In a process of its own, so that its peak memory is the import's, not the page benchmarks'.
        output = subprocess.run([sys.executable, "-m", "bench.import_bench", "--json"], check=True,
                                capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent).stdout
        rows = json.loads(output.strip().splitlines()[-1])
        goals = {"csv import speed (median run)": "≥ 20,000 rows/s (module's own target)",
                 "csv import / raw read": "≤ 3 x (module's own target)",
                 "peak RSS of the importing process up to the end of the first CSV import": "< 300 MB (module's own target)",
                 "peak RSS of the planning process during the first CSV import (shared pages counted)":
                     "< 300 MB (module's own target)"}
        for row in rows:
            row.setdefault("goal", goals.get(row["name"], "—"))
        sections.append("## 4. Import (100,000 rows, GBK CSV and XLSX, SQLite)\n\n"
                        + _table(["measure", "value", "unit", "goal"], _value_rows(rows)))

    if "reports" in parts:
        from bench import reports
        print("PDF reports", flush=True)
        rows = reports.run(large_app)
        sections.append(f"## 5. PDF reports (large size, scale {args.scale}; median of {reports.RUNS})\n\n"
                        + _table(["report", "value", "unit", "goal"], _value_rows(rows)))

    if "maps" in parts:
        from bench import processmaps_bench
        print("process maps", flush=True)
        rows = processmaps_bench.run()
        goals = {"first render / dot alone": "close to 1 x"}
        for row in rows:
            row.setdefault("goal", goals.get(row["name"], "—"))
        sections.append("## 6. Process maps (200-node map, SQLite)\n\n"
                        + _table(["measure", "value", "unit", "goal"], _value_rows(rows)))

    load_after = os.getloadavg()
    header = (f"# Benchmark results\n\nRun on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
              f"{os.cpu_count()} CPU cores, Python {sys.version.split()[0]}, database {generate_database_name()}, "
              f"scale {args.scale}, total {time.perf_counter() - started:.0f} s.\n\n"
              f"Machine load (1-minute load average) at start {load_before[0]:.1f}, at end {load_after[0]:.1f}"
              + (f"; {args.load_note}" if args.load_note else "") + ".\n\n"
              "Every figure is written here, good or bad, with its goal beside it. Re-create with "
              f"`make bench` (or `python -m bench.run --scale {args.scale}`).")
    Path(args.output).write_text(header + "\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    print(f"wrote {args.output}", flush=True)


def generate_database_name() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
