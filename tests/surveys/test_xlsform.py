"""XLSForm import/export: round trip, per-row errors, relevant expressions, CLI."""
import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from rollout.extensions import db
from surveys import xlsform
from surveys.models import Survey
from tests.surveys.conftest import build_survey


def _workbook(survey_rows, choice_rows=(), settings=None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    sheet.append(["type", "name", "label", "label::zh", "label::en", "hint", "required", "relevant"])
    for row in survey_rows:
        sheet.append(list(row) + [""] * (8 - len(row)))
    choices = workbook.create_sheet("choices")
    choices.append(["list_name", "name", "label", "label::zh", "label::en"])
    for row in choice_rows:
        choices.append(list(row))
    if settings:
        sheet_settings = workbook.create_sheet("settings")
        sheet_settings.append(list(settings))
        sheet_settings.append(list(settings.values()))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_export_then_import_gives_the_same_survey(company):
    survey = build_survey(company["lead"], anonymous=True, open_it=False)
    survey.description = "请认真填写"
    db.session.commit()
    data = xlsform.export_xlsform(survey)
    sheets = load_workbook(io.BytesIO(data)).sheetnames
    assert sheets == ["survey", "choices", "settings"]
    imported = xlsform.import_xlsform(data, company["lead"])
    db.session.commit()
    assert imported.id != survey.id
    assert xlsform.definition(imported) == xlsform.definition(survey)


def test_import_reads_types_groups_translations_and_relevant(company):
    data = _workbook(
        [("begin_group", "basics", "基本情况", "基本情况", "Basics"),
         ("select_one yn", "travels", "出差吗？", "出差吗？", "Travel?", "", "yes"),
         ("text", "where", "去哪里？", "", "", "城市", "no", "${travels} = 'yes'"),
         ("select_multiple tools", "tools", "工具", "", "", "", "", "selected(${travels}, 'yes') or ${where} != 'x'"),
         ("end_group", "basics"),
         ("integer", "visits", "每周拜访次数"),
         ("date", "since", "入职日期"),
         ("note", "thanks", "谢谢")],
        [("yn", "yes", "是", "是", "Yes"), ("yn", "no", "否", "否", "No"),
         ("tools", "excel", "Excel"), ("tools", "wechat", "微信")],
        settings={"form_title": "出差调研", "anonymous": "yes"})
    survey = xlsform.import_xlsform(data, company["lead"])
    db.session.commit()
    assert survey.title == "出差调研" and survey.is_anonymous
    assert [(q.name, q.type) for q in survey.questions] == [
        ("travels", "single"), ("where", "text"), ("tools", "multiple"), ("visits", "integer"), ("since", "date"),
        ("thanks", "note")]
    travels, where, tools = survey.questions[:3]
    assert travels.is_required and travels.label_en == "Travel?" and travels.section.title_en == "Basics"
    assert [o.label_en for o in travels.choices] == ["Yes", "No"]
    assert where.conditions == [{"question": "travels", "op": "equals", "value": "yes"}]
    assert tools.condition_join == "or" and tools.conditions[1]["op"] == "not_equals"
    assert survey.questions[3].section is None


def test_unusable_rows_are_reported_by_row_number_and_nothing_is_written(company):
    data = _workbook(
        [("select_one yn", "ok", "好的"),
         ("geopoint", "where", "位置"),
         ("select_one nolist", "q2", "问题"),
         ("text", "bad name", "名字"),
         ("text", "q4", "问题", "", "", "", "maybe"),
         ("text", "q5", "问题", "", "", "", "", "${ok} == 'a' xor"),
         ("text", "q6", "问题", "", "", "", "", "${later} = 'a'"),
         ("text", "later", "后面的问题"),
         ("text", "ok", "重复")],
        [("yn", "yes", "是"), ("yn", "no", "否"), ("yn", "", "空")])
    with pytest.raises(xlsform.XLSFormErrors) as caught:
        xlsform.import_xlsform(data, company["lead"])
    db.session.rollback()
    found = {(e.sheet, e.row) for e in caught.value.errors}
    assert {("survey", 3), ("survey", 4), ("survey", 5), ("survey", 6), ("survey", 7), ("survey", 10),
            ("choices", 4)} <= found
    messages = " ".join(str(e) for e in caught.value.errors)
    assert "geopoint is not supported" in messages and "unknown choice list nolist" in messages
    assert db.session.scalar(select(func.count()).select_from(Survey)) == 0


def test_condition_on_a_later_question_is_refused_with_its_row(company):
    data = _workbook([("text", "q1", "一", "", "", "", "", "${q2} = 'a'"), ("text", "q2", "二")])
    with pytest.raises(xlsform.XLSFormErrors) as caught:
        xlsform.import_xlsform(data, company["lead"])
    db.session.rollback()
    assert [(e.row, "earlier question" in e.message) for e in caught.value.errors] == [(2, True)]
    assert db.session.scalar(select(func.count()).select_from(Survey)) == 0


def test_garbage_file_is_an_error_not_a_crash(company):
    with pytest.raises(xlsform.XLSFormErrors, match="nothing was imported"):
        xlsform.import_xlsform(b"not a workbook", company["lead"])


def test_labels_that_look_like_formulas_stay_text(company):
    survey = build_survey(company["lead"], open_it=False)
    survey.questions[0].label = "=1+1 是公式吗"
    db.session.commit()
    sheet = load_workbook(io.BytesIO(xlsform.export_xlsform(survey)))["survey"]
    labels = [row[2] for row in sheet.iter_rows(values_only=True)]
    assert "=1+1 是公式吗" in labels


def test_cli_export_and_import(company, runner, tmp_path):
    survey = build_survey(company["lead"], open_it=False)
    path = tmp_path / "survey.xlsx"
    result = runner.invoke(args=["surveys", "export", str(survey.id), str(path)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["surveys", "import", str(path), "--owner", "lead"])
    assert result.exit_code == 0, result.output
    assert "Imported survey" in result.output
    assert db.session.scalar(select(func.count()).select_from(Survey)) == 2
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(_workbook([("geopoint", "where", "位置")]))
    result = runner.invoke(args=["surveys", "import", str(bad)])
    assert result.exit_code != 0 and "row 2" in result.output


def _zip_without_a_workbook() -> bytes:
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "不是工作簿")
    return buffer.getvalue()


@pytest.mark.parametrize("data, message", [
    (b"", "The file is empty."),
    (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200), "The file is not an Excel workbook (.xlsx)."),
    ("问卷,题目\nq1,满意吗\n".encode(), "The file is not an Excel workbook (.xlsx)."),
    (_zip_without_a_workbook(), "The file is not an Excel workbook (.xlsx)."),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "The file is an old Excel workbook (.xls)"),
])
def test_a_file_that_is_no_workbook_is_said_so_in_plain_words(company, data, message):
    with pytest.raises(xlsform.XLSFormErrors) as caught:
        xlsform.import_xlsform(data, company["lead"])
    [problem] = caught.value.errors
    assert str(problem).startswith(message)
    assert "row" not in str(problem) and "Error" not in str(problem) and "Key" not in str(problem)


def test_every_problem_of_the_file_is_reported_at_once(company):
    data = _workbook(
        [("text", "q1", "一", "", "", "", "maybe"),
         ("geopoint", "q2", "位置"),
         ("text", "q3", ""),
         ("text", "q1", "又是一"),
         ("select_one same", "q5", "选哪个"),
         ("begin_group", "basics", "基本情况", "", "", "", "perhaps"),
         ("text", "q6", "六"),
         ("end_group", "basics"),
         ("begin_group", "never_closed", "没有结束")],
        [("same", "a", "是"), ("same", "b", "是")])
    with pytest.raises(xlsform.XLSFormErrors) as caught:
        xlsform.import_xlsform(data, company["lead"])
    db.session.rollback()
    found = [(e.row, e.message) for e in caught.value.errors]
    assert [row for row, _message in found] == [2, 3, 4, 5, 6, 7, 10]
    assert "the name q1 is used twice" in found[3][1]
    # Checked while saving the question, it comes with the rest instead of on the next upload.
    assert "The option “是” is listed twice." in found[4][1]
    # The group with a bad flag still opens: its end_group is no problem of its own.
    assert "required must be yes or no" in found[5][1]
    assert "a begin_group is never closed" in found[6][1]
    assert db.session.scalar(select(func.count()).select_from(Survey)) == 0


def test_a_condition_on_a_refused_row_is_not_reported_again(company):
    data = _workbook([("geopoint", "where", "位置"), ("text", "why", "为什么", "", "", "", "", "${where} = 'x'")])
    with pytest.raises(xlsform.XLSFormErrors) as caught:
        xlsform.import_xlsform(data, company["lead"])
    db.session.rollback()
    assert [e.row for e in caught.value.errors] == [2]


def _workbook_with_headers(survey_header, survey_rows, choice_header, choice_rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    sheet.append(survey_header)
    for row in survey_rows:
        sheet.append(list(row))
    choices = workbook.create_sheet("choices")
    choices.append(choice_header)
    for row in choice_rows:
        choices.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("chinese", ["label::zh", "label::Chinese (zh)", "label::中文", "label::zh-CN",
                                     "label::ZH_cn", "label::简体中文", "label::Chinese (zh-CN)", "Label::中文（zh）"])
@pytest.mark.parametrize("english", ["label::en", "label::English (en)", "label::English", "label::英文",
                                     "label::en-US"])
def test_chinese_and_english_label_columns_are_read_however_the_language_is_spelt(company, chinese, english):
    data = _workbook_with_headers(
        ["type", "name", chinese, english],
        [("begin_group", "basics", "基本情况", "Basics"), ("select_one yn", "travels", "出差吗？", "Travel?"),
         ("end_group", "basics")],
        ["list_name", "name", chinese, english], [("yn", "yes", "是", "Yes"), ("yn", "no", "否", "No")])
    survey = xlsform.import_xlsform(data, company["lead"], fallback_title="调研")
    travels = survey.questions[0]
    # Without a plain label column the Chinese one is the label too.
    assert (travels.label, travels.label_zh, travels.label_en) == ("出差吗？", "出差吗？", "Travel?")
    assert travels.section.title_zh == "基本情况" and travels.section.title_en == "Basics"
    assert [(o.label, o.label_zh, o.label_en) for o in travels.choices] == [("是", "是", "Yes"), ("否", "否", "No")]


def test_other_languages_are_left_out_and_two_chinese_columns_take_the_first_filled_in(company):
    data = _workbook_with_headers(
        ["type", "name", "label", "label::French (fr)", "label::zh-CN", "label::中文", "hint::English (en)"],
        [("text", "where", "Where?", "Où ?", "", "去哪里？", ""), ("text", "when", "When?", "Quand ?", "何时？", "什么时候？")],
        ["list_name", "name", "label"], [])
    survey = xlsform.import_xlsform(data, company["lead"], fallback_title="调研")
    where, when = survey.questions
    assert (where.label, where.label_zh, where.label_en) == ("Where?", "去哪里？", None)
    assert when.label_zh == "何时？"
