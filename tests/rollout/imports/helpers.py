"""Small builders for import tests: files in every encoding and an uploaded batch."""
from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook

from rollout.imports import services


def write_csv(tmp_path: Path, rows: list[list[str]], encoding: str = "utf-8", separator: str = ",",
              name: str = "customers.csv") -> Path:
    text = "\r\n".join(separator.join(row) for row in rows) + "\r\n"
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(tmp_path: Path, rows: list[list], name: str = "customers.xlsx", formats: dict | None = None) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    for coordinate, number_format in (formats or {}).items():
        sheet[coordinate].number_format = number_format
    path = tmp_path / name
    workbook.save(path)
    return path


def two_sheet_workbook(tmp_path: Path) -> Path:
    """客户.xlsx: a summary sheet first, then the customers under a title row (header on row 2 of "客户")."""
    workbook = Workbook()
    workbook.active.title = "汇总"
    workbook.active.append(["月份", "新客户数"])
    workbook.active.append(["2024-01", "3"])
    customers = workbook.create_sheet("客户")
    customers.append(["2024 年客户清单"])
    customers.append(["客户名称", "城市"])
    customers.append(["北京星辰科技", "北京"])
    path = tmp_path / "客户.xlsx"
    workbook.save(path)
    return path


def upload(user, path: Path, target: str = "customers", **options):
    """Create a draft batch from a local file, as the web upload does; records without a department of their
    own go to the importer's department unless ``department_id`` says otherwise (None: no default)."""
    options.setdefault("department_id", user.department_id)
    with path.open("rb") as handle:
        stored = services.save_upload(io.BytesIO(handle.read()), path.name)
    return services.create_batch(user, target, stored, path.name, **options)


def import_customer(tmp_path: Path, user, name: str = "北京星辰科技", owner: str = "staff"):
    """One customer brought in by an import (for imports of its follow-ups, contacts or deals)."""
    from rollout.extensions import db
    services.run_import(upload(user, write_csv(tmp_path, [["客户名称", "负责人"], [name, owner]],
                                               name="customers.csv")), user)
    db.session.commit()
