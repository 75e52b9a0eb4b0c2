"""Training course attachments: content sniffed, size capped, hostile names cleaned, files stored
outside the static folder under random names and served as downloads that the browser will not run."""
import io
import os
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from rollout import create_app  # noqa: F401  (models registered by the app fixture)
from rollout.extensions import db
from tests.training.conftest import course  # noqa: F401  (the course fixture of the training tests)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _attach(client, course, data: bytes, name: str):
    return client.post(f"/training/courses/{course.id}/attachments",
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def _attachments():
    from training.models import CourseAttachment
    db.session.expire_all()
    return db.session.scalars(select(CourseAttachment).order_by(CourseAttachment.id)).all()


def _stored_files(app) -> list[str]:
    root = app.config["UPLOAD_FOLDER"]
    return [os.path.join(folder, name) for folder, _d, names in os.walk(root) for name in names]


@pytest.mark.parametrize("data, name", [
    (b"<html><script>alert(1)</script></html>", "报价单.pdf"),         # a web page dressed up as a PDF
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 64, "课件.pptx"),  # a Windows program as slides
    (b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "速查卡.png"),              # a Linux program as a picture
    (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "流程图.svg"),
    (PDF, "setup.exe"),                                               # content and name disagree
], ids=["html-as-pdf", "exe-as-pptx", "elf-as-png", "svg", "pdf-as-exe"])
def test_content_decides_not_the_extension(app, client_as, course, data, name):
    before = set(_stored_files(app))
    response = _attach(client_as("trainer"), course, data, name)
    assert response.status_code == 422, response.status_code
    assert "may be attached" in response.get_data(as_text=True)
    assert _attachments() == [] and set(_stored_files(app)) == before


@pytest.mark.parametrize("data, name", [
    (PDF, "报价审批速查卡.pdf"), (PNG, "流程截图.png"), (b"PK\x03\x04" + b"\x00" * 64, "课件.pptx"),
    ("客户拜访要点：先确认预算。\n".encode(), "要点.md"),
], ids=["pdf", "png", "pptx", "markdown"])
def test_real_files_of_the_allowed_kinds_are_attached(client_as, course, data, name):
    response = _attach(client_as("trainer"), course, data, name)
    assert response.status_code == 302, response.status_code
    [attachment] = _attachments()
    assert (attachment.filename, attachment.size) == (name, len(data))


def test_a_file_over_the_cap_is_refused_with_a_message(app, client_as, course):
    before = set(_stored_files(app))
    app.config["TRAINING_ATTACHMENT_MAX_BYTES"] = 1024
    try:
        response = _attach(client_as("trainer"), course, PDF + b"0" * 4096, "大文件.pdf")
    finally:
        app.config.pop("TRAINING_ATTACHMENT_MAX_BYTES")
    assert response.status_code in (413, 422), response.status_code
    assert "larger than" in response.get_data(as_text=True)
    assert _attachments() == [] and set(_stored_files(app)) == before


def test_a_request_over_the_site_limit_is_413_with_a_message(app, client_as, course):
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 2048
    try:
        response = _attach(client_as("trainer"), course, PDF + b"0" * 8192, "大文件.pdf")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert response.status_code == 413
    assert "larger than this site accepts" in response.get_data(as_text=True)
    assert _attachments() == []


@pytest.mark.parametrize("name, kept", [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("报告\x00.pdf", "报告.pdf"),
    ("速查\x1b卡\x07\x7f.pdf", "速查卡.pdf"),
    ("/var/www/rollout/static/课件.pdf", "课件.pdf"),
], ids=["dot-dot-slash", "nul", "control-characters", "absolute-path"])
def test_hostile_names_are_cleaned(app, client_as, course, name, kept):
    assert _attach(client_as("trainer"), course, PDF, name).status_code == 302
    [attachment] = _attachments()
    assert attachment.filename == kept
    # Nothing lands outside the upload folder, whatever the name said.
    root = os.path.realpath(app.config["UPLOAD_FOLDER"])
    assert all(os.path.realpath(path).startswith(root + os.sep) for path in _stored_files(app))
    assert not os.path.exists("/etc/passwd.pdf")


def test_a_very_long_name_is_shortened_and_keeps_its_extension(client_as, course):
    assert _attach(client_as("trainer"), course, PDF, "很长的名字" * 300 + ".pdf").status_code == 302
    [attachment] = _attachments()
    assert len(attachment.filename) <= 255 and attachment.filename.endswith("很长的名字.pdf")


def test_stored_outside_static_under_a_random_name_and_served_as_a_download(app, client_as, course):
    name = "报价审批速查卡（2026 版）.pdf"
    assert _attach(client_as("trainer"), course, PDF, name).status_code == 302
    [attachment] = _attachments()
    assert attachment.stored_name != attachment.filename and "报价" not in attachment.stored_name
    assert len(attachment.stored_name) >= 32
    [path] = [p for p in _stored_files(app) if os.path.basename(p) == attachment.stored_name]
    assert not os.path.realpath(path).startswith(os.path.realpath(app.static_folder))
    with open(path, "rb") as handle:
        assert handle.read() == PDF

    download = client_as("staff").get(f"/training/attachments/{attachment.id}")
    assert download.status_code == 200 and download.data == PDF
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    # The Chinese name survives through RFC 5987's filename*; the plain filename is ASCII only.
    encoded = disposition.split("filename*=UTF-8''", 1)[1].split(";")[0]
    assert unquote(encoded) == name
    assert all(ord(ch) < 128 for ch in disposition)
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.mimetype != "text/html"
    # The random name is not reachable as a static file either.
    assert client_as("staff").get(f"/static/{attachment.stored_name}").status_code == 404
    assert client_as("staff").get(f"/static/../uploads/training/{attachment.stored_name}").status_code == 404


def test_only_signed_in_people_download_and_only_managers_attach(app, client_as, course):
    from training.models import CourseAttachment
    assert _attach(client_as("trainer"), course, PDF, "速查卡.pdf").status_code == 302
    [attachment] = _attachments()
    anonymous = app.test_client().get(f"/training/attachments/{attachment.id}")
    assert anonymous.status_code in (302, 401, 403) and anonymous.data != PDF
    for role in ("staff", "other_staff", "head"):
        assert _attach(client_as(role), course, PDF, "偷偷上传.pdf").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(CourseAttachment)) == 1
    assert client_as("other_staff").get(f"/training/attachments/{attachment.id + 1000}").status_code == 404
