"""Process-map rendering speed: a generated 200-node map on SQLite.

run() -> rows {name, value, unit}: the first render of the map (DOT built from the
database, Graphviz, cache write) against `dot` alone on the same DOT text (the
ratio should be close to 1), and a cached view (DOT built again, cache hit, no
Graphviz) in milliseconds.  Run: python -m bench.processmaps_bench
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NODES = int(os.environ.get("PROCESSMAPS_BENCH_NODES", "200"))
ROLES = ["销售代表", "销售经理", "销售总监", "市场专员", "市场部经理", "财务专员", "客服专员", "IT工程师"]
CACHED_VIEWS = 20


def build_map(node_count: int):
    """A draft version with ``node_count`` nodes: a main chain, a decision every ten steps with a
    rework loop and an exception branch, owners spread over eight roles."""
    from processmaps import services
    from rollout.extensions import db

    process = services.create_process(f"基准流程（{node_count} 个节点）", with_start_and_end=False)
    version = process.versions[0]
    start = services.add_node(version, kind="start", name="开始")
    nodes = [start]
    for index in range(1, node_count - 2):
        kind = "decision" if index % 10 == 0 else ("exception" if index % 10 == 5 else "task")
        nodes.append(services.add_node(version, kind=kind, name=f"步骤{index:03d}", owner_role=ROLES[index % len(ROLES)],
                                       data_items="客户名称\n金额", time_limit=f"{index % 5 + 1}个工作日"))
    won = services.add_node(version, kind="end", name="完成")
    lost = services.add_node(version, kind="end", name="终止")
    for previous, current in zip(nodes, nodes[1:]):
        services.add_edge(version, source_id=previous.id, target_id=current.id,
                          label="通过" if previous.kind == "decision" else "")
        if previous.kind == "decision":
            back = nodes[max(1, nodes.index(previous) - 3)]
            services.add_edge(version, source_id=previous.id, target_id=back.id, label="不通过", is_exception=True)
        if previous.kind == "exception":
            services.add_edge(version, source_id=previous.id, target_id=lost.id, label="客户流失", is_exception=True)
    services.add_edge(version, source_id=nodes[-1].id, target_id=won.id)
    db.session.commit()
    return version.id


def measure(version_id: int) -> list[dict]:
    from processmaps import render, services
    from processmaps.models import ProcessVersion
    from rollout.extensions import db

    version = db.session.get(ProcessVersion, version_id)
    started = time.perf_counter()
    render.render(version, "svg")
    db.session.commit()
    first = time.perf_counter() - started

    source = render.dot_source(version)
    started = time.perf_counter()
    subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True, check=True)
    dot_alone = time.perf_counter() - started

    cached = []
    for _ in range(CACHED_VIEWS):
        db.session.expire_all()  # a new request: the version is loaded again, as the map page loads it
        version = db.session.scalar(services.version_query().where(ProcessVersion.id == version_id))
        started = time.perf_counter()
        render.render(version, "svg")
        cached.append(time.perf_counter() - started)
    return [
        {"name": "map size", "value": f"{len(version.nodes)} nodes / {len(version.edges)} edges", "unit": ""},
        {"name": "first render (DOT + Graphviz + cache write)", "value": round(first, 3), "unit": "s"},
        {"name": "dot -Tsvg alone on the same DOT", "value": round(dot_alone, 3), "unit": "s"},
        {"name": "first render / dot alone", "value": round(first / dot_alone, 2), "unit": "x"},
        {"name": f"cached view (median of {CACHED_VIEWS}, incl. loading the version)",
         "value": round(statistics.median(cached) * 1000, 1), "unit": "ms"},
    ]


def run() -> list[dict]:
    from rollout import create_app
    from rollout.extensions import db

    with tempfile.TemporaryDirectory(prefix="processmaps-bench-") as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'bench.db'}",
                          "RATELIMIT_ENABLED": False})
        with app.app_context():
            db.create_all()
            version_id = build_map(NODES)
            rows = measure(version_id)
            db.session.remove()
            db.engine.dispose()
        return rows


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    for row in run():
        print(f"{row['name']:<60} {row['value']:>14} {row['unit']}")
