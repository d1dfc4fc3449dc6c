"""Reading a bureau's filing standard from CSV/XLSX: encodings, headers, validation, template."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest

from cityops.catalog.filing_import import (
    FILING_TEMPLATE_HEADERS,
    CatalogImportError,
    FilingRow,
    parse_filing_standard,
    write_template,
)
from cityops.deadlines.units import TimeUnit

NEW = "GB/T 47678.5-2026"
OLD = "GB/T 30428.2-2013"

ENGLISH = [
    "edition", "category_code", "category_name", "condition_code", "description",
    "deadline_value", "deadline_unit", "closing_condition", "department",
]  # fmt: skip
CHINESE = [
    "版本", "小类代码", "小类名称", "条件编号", "立案条件", "处置时限", "时限单位", "结案条件", "责任部门",
]  # fmt: skip

GARBAGE = [
    NEW,
    "06010",
    "暴露垃圾",
    "01",
    "在主干道发现暴露垃圾",
    "4",
    "工作时",
    "垃圾清理干净",
    "sanitation",
]
GARBAGE_2 = [NEW, "06010", "暴露垃圾", "02", "在背街小巷发现暴露垃圾", "8", "working_hours", "清理干净", ""]
PARKING = ["", "09009", "机动车乱停放", "01", "人行道乱停放", "3", "紧急工作时", "车辆已驶离", "执法大队"]
OLD_COVER = [OLD, "0102", "污水井盖", "01", "井盖缺失", "2", "urgent_hours", "已补装井盖", "municipal"]
NEW_LOCAL = [NEW, "09101", "违规夜市", "01", "夜市超出核定范围", "0.5", "自然日", "恢复核定范围", ""]


def _expected() -> list[FilingRow]:
    return [
        FilingRow(NEW, "event", "06010", "暴露垃圾", "01", "在主干道发现暴露垃圾", 4.0,
                  TimeUnit.WORKING_HOURS, "垃圾清理干净", "sanitation", 2),
        FilingRow(NEW, "event", "06010", "暴露垃圾", "02", "在背街小巷发现暴露垃圾", 8.0,
                  TimeUnit.WORKING_HOURS, "清理干净", None, 3),
        FilingRow(NEW, "event", "09009", "机动车乱停放", "01", "人行道乱停放", 3.0,
                  TimeUnit.URGENT_HOURS, "车辆已驶离", "enforcement", 4),
        FilingRow(OLD, "component", "0102", "污水井盖", "01", "井盖缺失", 2.0,
                  TimeUnit.URGENT_HOURS, "已补装井盖", "municipal", 5),
        FilingRow(NEW, "event", "09101", "违规夜市", "01", "夜市超出核定范围", 0.5,
                  TimeUnit.NATURAL_DAYS, "恢复核定范围", None, 6),
    ]  # fmt: skip


GOOD = [GARBAGE, GARBAGE_2, PARKING, OLD_COVER, NEW_LOCAL]


def _csv(path: Path, rows: Sequence[Sequence[str]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _assert_rows(actual: list[FilingRow], expected: list[FilingRow]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        for field in FilingRow.__dataclass_fields__:
            assert getattr(got, field) == getattr(want, field), (want.row_number, field)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_utf8_csv_with_english_headers(tmp_path: Path, encoding: str) -> None:
    path = _csv(tmp_path / "standard.csv", [ENGLISH, *GOOD], encoding)
    _assert_rows(parse_filing_standard(path), _expected())


def test_gb18030_csv_with_chinese_headers(tmp_path: Path) -> None:
    path = _csv(tmp_path / "立案标准.csv", [CHINESE, *GOOD], "gb18030")
    # Make sure the test really exercises the fallback rather than accidental UTF-8.
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    _assert_rows(parse_filing_standard(path), _expected())


def test_utf16_tab_separated_export(tmp_path: Path) -> None:
    path = _csv(tmp_path / "standard.csv", [CHINESE, *GOOD], "utf-16", delimiter="\t")
    _assert_rows(parse_filing_standard(path), _expected())


def test_xlsx_with_title_row_extra_column_and_number_cells(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["XX区城市管理立案标准"])
    sheet.append(["序号", *CHINESE])
    for number, row in enumerate(GOOD, start=1):
        cells: list[object] = [number, *row]
        if row is GARBAGE:
            # Excel stores typed-in codes and limits as numbers and drops the leading zeros.
            cells[2], cells[4], cells[6] = 6010, 1, 4
        sheet.append(cells)
    sheet.append([])
    path = tmp_path / "standard.xlsx"
    workbook.save(path)
    expected = [dataclasses.replace(r, row_number=r.row_number + 1) for r in _expected()]
    _assert_rows(parse_filing_standard(path), expected)


def test_kind_can_be_given_or_is_taken_from_the_builtin_catalogue(tmp_path: Path) -> None:
    header = ["edition", "kind", "category_code", "category_name", "condition_code", "description",
              "deadline_value", "deadline_unit", "closing_condition"]  # fmt: skip
    rows = [
        header,
        [OLD, "", "0102", "暴露垃圾", "01", "d", "4", "工作时", "c"],
        [OLD, "", "0102", "污水井盖", "01", "d", "2", "紧急工作时", "c"],
        [OLD, "部件", "0101", "", "01", "d", "2", "紧急工作时", "c"],
        [NEW, "事项", "01001", "供水井盖异常", "01", "d", "2", "紧急工作时", "c"],
        [NEW, "", "01054", "", "01", "d", "2", "紧急工作时", "c"],
        [NEW, "", "06010", "", "01", "d", "4", "工作时", "c"],
    ]
    parsed = parse_filing_standard(_csv(tmp_path / "k.csv", rows))
    assert [r.kind for r in parsed] == ["event", "component", "component", "event", "component", "event"]
    assert parsed[4].category_name is None
    assert parsed[0].parent_code == "01"


def test_edition_short_forms(tmp_path: Path) -> None:
    rows = [ENGLISH, ["30428.2", *OLD_COVER[1:]], ["gb/t47678.5", *GARBAGE[1:]]]
    assert [r.edition for r in parse_filing_standard(_csv(tmp_path / "e.csv", rows))] == [OLD, NEW]


def _error(path: Path) -> CatalogImportError:
    with pytest.raises(CatalogImportError) as info:
        parse_filing_standard(path)
    return info.value


def _replace(row: list[str], column: str, value: str) -> list[str]:
    changed = list(row)
    changed[ENGLISH.index(column)] = value
    return changed


@pytest.mark.parametrize(
    ("bad_row", "column", "fragment"),
    [
        (_replace(GARBAGE, "deadline_unit", "hours"), "deadline_unit", "working_hours"),
        (_replace(GARBAGE, "deadline_value", "四"), "deadline_value", "not a number"),
        (_replace(GARBAGE, "deadline_value", "0"), "deadline_value", "greater than 0"),
        (_replace(GARBAGE, "deadline_value", "-2"), "deadline_value", "greater than 0"),
        (_replace(GARBAGE, "deadline_value", ""), "deadline_value", "empty"),
        (_replace(GARBAGE, "description", " "), "description", "empty"),
        (_replace(GARBAGE, "closing_condition", ""), "closing_condition", "empty"),
        (_replace(GARBAGE, "condition_code", ""), "condition_code", "empty"),
        (_replace(GARBAGE, "category_code", ""), "category_code", "empty"),
        (_replace(GARBAGE, "category_code", "0601"), "category_code", "5 digits"),
        (_replace(GARBAGE, "category_code", "06A10"), "category_code", "5 digits"),
        (_replace(OLD_COVER, "category_code", "01020"), "category_code", "4 digits"),
        (_replace(GARBAGE, "category_code", "00010"), "category_code", "5 digits"),
        (_replace(GARBAGE, "edition", "GB/T 1-2000"), "edition", "unknown edition"),
        (GARBAGE, "condition_code", "already given in row 2"),
        (_replace(GARBAGE_2, "category_name", "垃圾暴露"), "category_name", "in row 2"),
    ],
)
def test_bad_cell_names_row_and_column(
    tmp_path: Path, bad_row: list[str], column: str, fragment: str
) -> None:
    # The bad row sits after good ones: nothing is returned even though most rows are fine.
    path = _csv(tmp_path / "bad.csv", [ENGLISH, GARBAGE, PARKING, bad_row, OLD_COVER])
    error = _error(path)
    assert (error.row, error.column) == (4, column)
    assert error.field == f"row 4, {column}"
    assert fragment in error.message
    assert len(error.problems) == 1


def test_unknown_unit_message_lists_valid_units(tmp_path: Path) -> None:
    error = _error(_csv(tmp_path / "u.csv", [ENGLISH, _replace(GARBAGE, "deadline_unit", "小时")]))
    for unit in ("urgent_hours", "working_hours", "working_days", "natural_days", "紧急工作时", "工作日"):
        assert unit in error.message


def test_all_problems_are_collected(tmp_path: Path) -> None:
    bad_unit = _replace(GARBAGE, "deadline_unit", "x")
    rows = [ENGLISH, bad_unit, PARKING, _replace(OLD_COVER, "deadline_value", "")]
    error = _error(_csv(tmp_path / "many.csv", rows))
    assert [(p.row, p.column) for p in error.problems] == [(2, "deadline_unit"), (4, "deadline_value")]
    assert (error.row, error.column) == (2, "deadline_unit")
    assert "1 more problem" in str(error)


def test_missing_required_column(tmp_path: Path) -> None:
    header = [h for h in CHINESE if h != "时限单位"]
    rows = [header, [c for i, c in enumerate(GARBAGE) if CHINESE[i] != "时限单位"]]
    error = _error(_csv(tmp_path / "m.csv", rows))
    assert (error.row, error.column) == (1, "deadline_unit")
    assert "missing" in error.message


def test_no_header_at_all(tmp_path: Path) -> None:
    error = _error(_csv(tmp_path / "h.csv", [["a", "b"], ["1", "2"]]))
    assert error.row is None and "no header row" in error.message


def test_header_without_rows(tmp_path: Path) -> None:
    assert "no filing conditions" in _error(_csv(tmp_path / "empty.csv", [ENGLISH])).message


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "standard.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    error = _error(path)
    assert ".xlsx" in error.message and error.row is None and error.column is None


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot read" in _error(tmp_path / "nowhere.csv").message


def test_corrupt_workbook(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip file")
    assert "Excel workbook" in _error(path).message


def test_undecodable_csv(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"category_code,\xff\xff\xff\n")
    assert "decode" in _error(path).message


def test_template_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    write_template(path)
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert [c.value for c in sheet[1]] == list(FILING_TEMPLATE_HEADERS)
    rows = parse_filing_standard(path)
    assert [(r.category_code, r.condition_code, r.deadline_value, r.deadline_unit) for r in rows] == [
        ("06010", "01", 4.0, TimeUnit.WORKING_HOURS),
        ("09009", "01", 3.0, TimeUnit.URGENT_HOURS),
    ]
    assert [(r.edition, r.kind, r.category_name, r.department, r.row_number) for r in rows] == [
        (NEW, "event", "暴露垃圾", "sanitation", 2),
        (NEW, "event", "机动车乱停放", "enforcement", 3),
    ]
    assert rows[0].closing_condition == "垃圾清理干净"
