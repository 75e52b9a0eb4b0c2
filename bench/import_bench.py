"""Import speed: a 100,000-row GBK customer CSV and the same rows as XLSX, on SQLite.

run() -> rows {name, value, unit}: raw read times (csv module; python-calamine and openpyxl
for the workbook), full import (inspection, cleaning, duplicate checks, inserts) in rows/s,
the ratio to the raw read and to the raw read plus the sqlite3 module alone inserting the rows
the import wrote (what storing them costs the database itself), the CPU time it took, and the
peak RSS of the importing process and of the process that plans large files beside it (forked:
the two share most of their pages).  The CSV import and the insert alone run CSV_RUNS times,
each into a new database, and the median is reported (with the range of the import): on a
shared host the same run varies by a fifth from one minute to the next.  Targets:
≥ 20,000 rows/s for the CSV, within 3× the raw read, peak RSS < 300 MB.
Run: python -m bench.import_bench
"""
from __future__ import annotations

import csv
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROWS = int(os.environ.get("IMPORT_BENCH_ROWS", "100000"))
CSV_RUNS = int(os.environ.get("IMPORT_BENCH_CSV_RUNS", "3"))
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "南京", "苏州", "成都", "武汉", "西安"]
INDUSTRIES = ["制造业", "软件", "物流", "医疗", "教育", "零售", "化工", "金融"]
WORDS = ["星辰", "云帆", "恒远", "瑞德", "海晟", "金陵", "华光", "申联", "科信", "东瓯", "禾丰", "天宁"]
AREA_CODES = ["010", "021", "020", "0755", "0571", "025", "0512", "028", "027", "029"]


def _row(number: int, rng: random.Random) -> list[str]:
    city = CITIES[number % len(CITIES)]
    name = f"{city}{WORDS[number % len(WORDS)]}{number:06d}科技有限公司"
    roll = rng.random()
    if roll < 0.70:
        phone = f"1{rng.choice('3456789')}{rng.randrange(10 ** 9):09d}"
    elif roll < 0.80:
        phone = f"+86 13{rng.randrange(10 ** 9):09d}"
    elif roll < 0.95:
        phone = f"{AREA_CODES[number % len(AREA_CODES)]}-{rng.randrange(2, 9)}{rng.randrange(10 ** 6):06d}{rng.randrange(10)}"
    else:
        phone = str(rng.randrange(10000))  # invalid: flagged and rejected
    email = f"Contact{number}@Example{number % 97}.com" if rng.random() < 0.6 else ""
    if number % 50 == 49:  # a duplicate of an earlier row
        name = f"{CITIES[(number - 1) % len(CITIES)]}{WORDS[(number - 1) % len(WORDS)]}{number - 1:06d}科技有限公司"
    return [name, phone, email, city, INDUSTRIES[number % len(INDUSTRIES)], f"{rng.randrange(1, 100)}万"]


HEADER = ["客户名称", "手机", "邮箱", "城市", "行业", "年采购额"]


def write_files(folder: Path) -> tuple[Path, Path]:
    """The CSV (GBK, streamed out) and the XLSX (write-only workbook) with the same rows."""
    from openpyxl import Workbook
    rng = random.Random(7)
    csv_path = folder / "customers.csv"
    with csv_path.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for number in range(ROWS):
            writer.writerow(_row(number, rng))
    rng = random.Random(7)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for number in range(ROWS):
        sheet.append(_row(number, rng))
    xlsx_path = folder / "customers.xlsx"
    workbook.save(xlsx_path)
    return csv_path, xlsx_path


def raw_csv_read(path: Path) -> float:
    started = time.perf_counter()
    with path.open("r", encoding="gb18030", newline="") as handle:
        for _row_ in csv.reader(handle):
            pass
    return time.perf_counter() - started


def raw_calamine_read(path: Path) -> float:
    from python_calamine import CalamineWorkbook
    started = time.perf_counter()
    workbook = CalamineWorkbook.from_path(str(path))
    for _row_ in workbook.get_sheet_by_index(0).iter_rows():
        pass
    return time.perf_counter() - started


def raw_openpyxl_read(path: Path) -> float:
    from openpyxl import load_workbook
    started = time.perf_counter()
    workbook = load_workbook(path, read_only=True, data_only=True)
    for _row_ in workbook.worksheets[0].iter_rows(values_only=True):
        pass
    workbook.close()
    return time.perf_counter() - started


def database_insert_alone(source: Path, folder: Path) -> float:
    """The rows an import wrote (customers and their ownership history), inserted again by the
    sqlite3 module alone into an empty database of the same schema and pragmas: multi-row INSERTs
    of the import's size, in one transaction.  This is what storing these rows costs SQLite by
    itself, with nothing read, cleaned or checked; the import's writing process pays it too."""
    import sqlite3
    from contextlib import closing

    from rollout.database import BULK_PAGE_CACHE_KIB
    from rollout.extensions import db
    from rollout.imports.targets import ROWS_PER_STATEMENT
    tables = ("customers", "customer_assignments")
    with closing(sqlite3.connect(source)) as connection:
        rows = {table: connection.execute(f"SELECT * FROM {table}").fetchall() for table in tables}
    app = _app(_new_folder(folder))
    with app.app_context():
        connection = db.engine.raw_connection()  # the application's pragmas
        try:
            cursor = connection.cursor()
            cursor.execute(f"PRAGMA cache_size=-{BULK_PAGE_CACHE_KIB}")  # as an import has
            started = time.perf_counter()
            cursor.execute("BEGIN IMMEDIATE")  # the application's connections leave BEGIN to it
            for table in tables:
                placeholders = "(" + ", ".join("?" * len(rows[table][0])) + ")"
                for first in range(0, len(rows[table]), ROWS_PER_STATEMENT):
                    part = rows[table][first:first + ROWS_PER_STATEMENT]
                    cursor.execute(f"INSERT INTO {table} VALUES " + ", ".join([placeholders] * len(part)),
                                   [value for row in part for value in row])
            connection.commit()
            return time.perf_counter() - started
        finally:
            connection.close()


def _cpu_seconds() -> float:
    """CPU time of this process and of the children it has waited for (the planning process)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _import(app, path: Path) -> tuple[float, dict]:
    from rollout.audit.services import acting_as
    from rollout.extensions import db
    from rollout.imports import services
    from rollout.plans.models import Customer
    with app.app_context():
        db.session.execute(Customer.__table__.delete())
        db.session.commit()
        from rollout.accounts.models import User
        admin = db.session.query(User).filter_by(username="bench-admin").one()
        started = time.perf_counter()
        with acting_as(admin):
            stored = services.keep_file(path)
            batch = services.create_batch(admin, "customers", stored, path.name, department_id=admin.department_id)
            db.session.commit()
            batch = services.run_import(batch, admin, chunk_size=5000)
        elapsed = time.perf_counter() - started
        return elapsed, {"created": batch.created_count, "skipped": batch.skipped_count,
                         "errors": batch.error_count, "status": batch.status}


def _new_folder(folder: Path) -> Path:
    folder.mkdir()
    return folder


def _app(folder: Path):
    os.environ.setdefault("ROLLOUT_INSTANCE", str(folder))
    from rollout import create_app
    from rollout.accounts.models import Department, User
    from rollout.extensions import db
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}", "UPLOAD_FOLDER": str(folder),
                      "TESTING": True})
    with app.app_context():
        db.create_all()
        department = Department(name="销售部", kind="department", code="sales")
        admin = User(username="bench-admin", display_name="管理员", password_hash="!", department=department)
        admin.set_roles(["admin"])
        db.session.add_all([department, admin])
        db.session.commit()
    return app


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        folder = Path(tmp)
        csv_path, xlsx_path = write_files(folder)
        app = _app(folder)
        csv_read = raw_csv_read(csv_path)
        runs = []  # (seconds, CPU seconds, counts), each run into a new database
        for run_number in range(CSV_RUNS):
            run_folder = folder if run_number == 0 else _new_folder(folder / f"run{run_number + 1}")
            run_app = app if run_number == 0 else _app(run_folder)
            cpu_before = _cpu_seconds()
            seconds, counts = _import(run_app, csv_path)
            runs.append((seconds, _cpu_seconds() - cpu_before, counts))
            if run_number == 0:
                # Memory of the first run only: later runs fork their planning process from this
                # one grown by the runs before, which an import in its own process never is.
                csv_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                planner_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        csv_import, csv_cpu, csv_counts = sorted(runs, key=lambda run: run[0])[len(runs) // 2]
        fastest, slowest = min(run[0] for run in runs), max(run[0] for run in runs)
        calamine_read = raw_calamine_read(xlsx_path)
        openpyxl_read = raw_openpyxl_read(xlsx_path)
        xlsx_import, xlsx_counts = _import(app, xlsx_path)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # Last, after the memory figures: it holds every row in memory, which no import does.  From
        # the last CSV run's database: the XLSX import replaced the first run's rows.
        database_alone = sorted(database_insert_alone(run_folder / "bench.db", folder / f"alone{number}")
                                for number in range(CSV_RUNS))[CSV_RUNS // 2]
        return [
            {"name": "csv rows", "value": ROWS, "unit": "rows"},
            {"name": "csv file size", "value": round(csv_path.stat().st_size / 1e6, 1), "unit": "MB"},
            {"name": "csv raw read (csv module, GB18030)", "value": round(csv_read, 3), "unit": "s"},
            {"name": f"csv import (inspect + clean + duplicates + insert), median of {len(runs)} runs",
             "value": round(csv_import, 3), "unit": "s"},
            {"name": "csv import speed (median run)", "value": round(ROWS / csv_import), "unit": "rows/s"},
            {"name": "csv import speed, slowest – fastest run",
             "value": f"{round(ROWS / slowest):,} – {round(ROWS / fastest):,}", "unit": "rows/s"},
            {"name": "csv import / raw read", "value": round(csv_import / csv_read, 2), "unit": "x"},
            {"name": f"the same customer and history rows inserted by the sqlite3 module alone (multi-row INSERTs), median of {CSV_RUNS}",
             "value": round(database_alone, 3), "unit": "s"},
            {"name": "csv raw read + sqlite3 insert alone", "value": round(csv_read + database_alone, 3), "unit": "s"},
            {"name": "csv import / (raw read + sqlite3 insert alone)",
             "value": round(csv_import / (csv_read + database_alone), 2), "unit": "x"},
            {"name": "csv import CPU time, median run (importing + planning process)", "value": round(csv_cpu, 2),
             "unit": "s"},
            {"name": "csv created / skipped / rejected", "value": f"{csv_counts['created']} / {csv_counts['skipped']} / {csv_counts['errors']}", "unit": ""},
            {"name": "xlsx raw read (python-calamine)", "value": round(calamine_read, 3), "unit": "s"},
            {"name": "xlsx raw read (openpyxl read-only)", "value": round(openpyxl_read, 3), "unit": "s"},
            {"name": "xlsx import", "value": round(xlsx_import, 3), "unit": "s"},
            {"name": "xlsx import speed", "value": round(ROWS / xlsx_import), "unit": "rows/s"},
            {"name": "xlsx import / openpyxl read", "value": round(xlsx_import / openpyxl_read, 2), "unit": "x"},
            {"name": "peak RSS of the importing process up to the end of the first CSV import", "value": round(csv_peak_mb), "unit": "MB"},
            {"name": "peak RSS of the planning process during the first CSV import (shared pages counted)",
             "value": round(planner_peak_mb), "unit": "MB"},
            {"name": "peak RSS of the importing process after all the imports", "value": round(peak_mb), "unit": "MB"},
        ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    results = run()
    if "--json" in sys.argv:
        import json
        print(json.dumps(results))
    else:
        for row in results:
            print(f"{row['name']:<55} {row['value']:>14} {row['unit']}")
