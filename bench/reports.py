"""PDF rendering time: the requirements specification (300 requirements on 5 process maps) and
the rollout readiness/status report, through their routes (test client, logged in as the lead)."""
from __future__ import annotations

import statistics
import time

from bench.pages import client_for

RUNS = 2
PDFS = [
    ("requirements specification PDF", "/surveys/requirements/specification.pdf"),
    ("readiness / status report PDF", "/rollout/report.pdf"),
]


def run(app, username: str = "lead") -> list[dict]:
    """Median of RUNS renders of each PDF (after one warm-up render)."""
    from rollout.extensions import db
    from sqlalchemy import func, select
    from surveys.models import Requirement
    with app.app_context():
        requirements = db.session.scalar(select(func.count()).select_from(Requirement))
    client = client_for(app, username)
    rows = []
    for label, path in PDFS:
        response = client.get(path)
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - started)
        name = f"{label} ({requirements} requirements)" if "specification" in path else label
        rows.append({"name": name, "value": round(statistics.median(times), 2), "unit": "s",
                     "goal": "— (none set)", "status": response.status_code, "bytes": len(response.data)})
        print(f"    {name:<55} {rows[-1]['value']:>8} s  ({response.status_code}, {len(response.data):,} bytes)",
              flush=True)
    return rows
