"""`rollout processmaps export|import`."""
from processmaps.models import Process
from rollout.extensions import db
from tests.processmaps.helpers import sales_process


def test_export_bpmn_to_a_file_and_import_it_back(company, runner, tmp_path):
    process = sales_process(company, approve=True)
    target = tmp_path / "sales.bpmn"
    result = runner.invoke(args=["processmaps", "export", str(process.id), "--format", "bpmn", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert b"<bpmn:laneSet" in target.read_bytes()
    # Back into 销售部, which has a 销售流程: the file becomes that process's next version (a draft).
    result = runner.invoke(args=["processmaps", "import", str(target), "--department", "sales"])
    assert result.exit_code == 0, result.output
    assert f"imported process {process.id}: 销售流程 v2" in result.output
    db.session.expire_all()
    assert db.session.query(Process).count() == 1
    first, second = db.session.get(Process, process.id).versions
    assert second.status == "draft" and second.based_on_id == first.id
    assert sorted(n.key for n in second.nodes) == sorted(n.key for n in first.nodes)
    # Into another department it is a process of its own.
    result = runner.invoke(args=["processmaps", "import", str(target), "--department", "marketing"])
    assert result.exit_code == 0, result.output
    copy = db.session.query(Process).order_by(Process.id.desc()).first()
    assert copy.id != process.id and copy.department_id == company["departments"]["marketing"].id
    assert len(copy.versions[0].nodes) == len(process.versions[0].nodes)


def test_export_png_and_pdf(company, runner, tmp_path):
    process = sales_process(company, approve=True)
    for fmt, start in (("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml")):
        target = tmp_path / f"map.{fmt}"
        result = runner.invoke(args=["processmaps", "export", str(process.id), "--format", fmt, "-o", str(target)])
        assert result.exit_code == 0, result.output
        assert target.read_bytes().startswith(start)


def test_cli_errors_are_clear(company, runner, tmp_path):
    result = runner.invoke(args=["processmaps", "export", "999", "--format", "bpmn"])
    assert result.exit_code != 0 and "no process with id 999" in result.output
    broken = tmp_path / "broken.bpmn"
    broken.write_text("<definitions>")
    result = runner.invoke(args=["processmaps", "import", str(broken)])
    assert result.exit_code != 0 and "not well-formed" in result.output
    assert db.session.query(Process).count() == 0
