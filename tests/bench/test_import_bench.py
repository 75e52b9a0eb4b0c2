"""The import benchmark's reference measure stores exactly the rows the import wrote (no timings asserted)."""
import sqlite3
from contextlib import closing

from bench import import_bench

TABLES = ("customers", "customer_assignments")


def _rows(database) -> dict[str, list[tuple]]:
    with closing(sqlite3.connect(database)) as connection:
        return {table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() for table in TABLES}


def test_the_insert_alone_stores_the_rows_the_import_wrote(tmp_path, monkeypatch):
    monkeypatch.setattr(import_bench, "ROWS", 300)
    csv_path, _xlsx_path = import_bench.write_files(tmp_path)
    app = import_bench._app(tmp_path)
    _seconds, counts = import_bench._import(app, csv_path)
    assert counts["status"] == "completed"
    assert counts["created"] + counts["skipped"] + counts["errors"] == 300

    seconds = import_bench.database_insert_alone(tmp_path / "bench.db", tmp_path / "alone")

    assert seconds > 0
    imported, alone = _rows(tmp_path / "bench.db"), _rows(tmp_path / "alone" / "bench.db")
    assert len(imported["customers"]) == counts["created"]
    assert len(imported["customer_assignments"]) == counts["created"]
    assert alone == imported
