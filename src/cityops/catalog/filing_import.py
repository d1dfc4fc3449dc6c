"""Read a bureau's own filing standard (立案标准) from a CSV or XLSX spreadsheet.

One row is one filing condition (立案条件) of a subclass. Headers may be English (``category_code``) or
Chinese (``小类代码``), or both in one cell as the template writes them (``小类代码* category_code``);
unknown columns (序号, 大类名称 …) are ignored and title rows above the header are skipped. Every row is
validated before anything is returned, so an import is all or nothing; problems carry the spreadsheet row
number and the column.

There is also an optional ``kind`` 类型 column (部件 / 事件 / 事项) because both editions reuse codes across
kinds (old 0102 = 污水井盖 and 暴露垃圾). When it is blank the kind is taken from the built-in catalogue (by
name, then by code) and otherwise defaults to ``event``, where filing conditions usually sit.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import cast

import openpyxl
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation

from cityops.catalog.builtin import (
    CLASS_CODE_LENGTH,
    DEFAULT_EDITION,
    DEPARTMENTS,
    SUBCLASS_CODE_LENGTHS,
    Kind,
    load_builtin,
)
from cityops.deadlines.units import TimeUnit, parse_unit

Cell = str | int | float | bool | datetime | date | time | None

MAX_PROBLEMS = 20
# Title rows ("XX区城市管理立案标准") commonly sit above the header; look this far for it.
HEADER_SEARCH_ROWS = 10

_ALIASES: dict[str, tuple[str, ...]] = {
    "edition": ("edition", "版本", "标准版本"),
    "kind": ("kind", "类型", "部件/事件", "部件事件"),
    "category_code": ("category_code", "小类代码", "小类编码", "小类编号"),
    "category_name": ("category_name", "小类名称"),
    "condition_code": ("condition_code", "条件编号", "条件代码", "立案条件编号"),
    "description": ("description", "立案条件"),
    "deadline_value": ("deadline_value", "处置时限"),
    "deadline_unit": ("deadline_unit", "时限单位"),
    "closing_condition": ("closing_condition", "结案条件"),
    "department": ("department", "责任部门", "处置部门"),
}
_HEADER_LOOKUP = {alias.lower(): field for field, aliases in _ALIASES.items() for alias in aliases}
REQUIRED_COLUMNS = (
    "category_code",
    "condition_code",
    "description",
    "deadline_value",
    "deadline_unit",
    "closing_condition",
)

_KIND_WORDS: dict[str, Kind] = {
    "component": "component",
    "部件": "component",
    "event": "event",
    "事件": "event",
    "事项": "event",
    "matter": "event",
}
_DEPARTMENT_WORDS = {
    **{code: code for code in DEPARTMENTS},
    **{name: code for code, name in DEPARTMENTS.items()},
    "执法": "enforcement",
    "城管执法": "enforcement",
    "环卫所": "sanitation",
    "园林绿化": "landscape",
}


class CatalogImportError(ValueError):
    """A filing-standard file cannot be imported.

    ``row`` is the 1-based spreadsheet row, ``column`` the canonical column name; ``field`` joins them for the
    API error body. When several rows are wrong, this error describes the first and ``problems`` lists all
    (up to ``MAX_PROBLEMS``).
    """

    code = "catalog_import_invalid"

    def __init__(
        self,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        problems: Sequence[CatalogImportError] = (),
    ) -> None:
        self.message = message
        self.row = row
        self.column = column
        self.problems: tuple[CatalogImportError, ...] = tuple(problems) or (self,)
        super().__init__(f"{self.field}: {message}" if self.field else message)

    @property
    def field(self) -> str | None:
        parts = ([f"row {self.row}"] if self.row is not None else []) + ([self.column] if self.column else [])
        return ", ".join(parts) or None


@dataclass(frozen=True, slots=True)
class FilingRow:
    """One validated filing condition. ``category_name`` is set only when the sheet gives one."""

    edition: str
    kind: Kind
    category_code: str
    category_name: str | None
    condition_code: str
    description: str
    deadline_value: float
    deadline_unit: TimeUnit
    closing_condition: str
    department: str | None
    row_number: int

    @property
    def parent_code(self) -> str:
        """The class a new subclass goes under: its code's first two digits."""
        return self.category_code[:CLASS_CODE_LENGTH]


def parse_filing_standard(path: Path) -> list[FilingRow]:
    """Parse and validate a ``.csv`` or ``.xlsx`` filing standard.

    Raises ``CatalogImportError`` when the file cannot be read or any row is bad; then nothing is returned.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _read_csv(path)
    elif suffix in (".xlsx", ".xlsm"):
        rows = _read_xlsx(path)
    else:
        raise CatalogImportError(
            f"cannot read {path.name!r}: use a .csv or .xlsx file (save .xls workbooks as .xlsx first)"
        )
    header_row, columns = _find_header(rows)
    return _RowParser(columns).parse(r for r in rows if r[0] > header_row)


def _read_csv(path: Path) -> list[tuple[int, list[Cell]]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogImportError(f"cannot read {path.name!r}: {exc.strerror or exc}") from exc
    text = _decode(data, path.name)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    # Excel's "Unicode text" export is tab-separated; everything else we meet is comma-separated.
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise CatalogImportError(f"{path.name!r} is not a valid CSV file: {exc}") from exc
    return [(number, list(record)) for number, record in enumerate(records, start=1)]


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        # utf-8-sig also reads BOM-less UTF-8; GBK text practically never decodes as UTF-8, so order is safe.
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CatalogImportError(f"cannot decode {name!r}: save it as UTF-8 CSV (or GBK / GB18030)")


def _read_xlsx(path: Path) -> list[tuple[int, list[Cell]]]:
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise CatalogImportError(f"cannot read {path.name!r} as an Excel workbook: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        # data_only yields values, not formulas; any rarer type (Decimal, timedelta) still goes through _text's str().
        rows = enumerate(sheet.iter_rows(values_only=True), 1)
        return [(number, list(cast(tuple[Cell, ...], values))) for number, values in rows]
    finally:
        workbook.close()


def _find_header(rows: Sequence[tuple[int, list[Cell]]]) -> tuple[int, dict[str, int]]:
    """Return the header's row number and a map canonical column → cell index."""
    best: tuple[int, dict[str, int]] | None = None
    for number, cells in [r for r in rows if any(_text(c) for c in r[1])][:HEADER_SEARCH_ROWS]:
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            name = _header_field(_text(cell))
            if name is None:
                continue
            if name in columns:
                raise CatalogImportError(f"two columns are read as {name!r}", row=number, column=name)
            columns[name] = index
        if all(c in columns for c in REQUIRED_COLUMNS):
            return number, columns
        if columns and (best is None or len(columns) > len(best[1])):
            best = (number, columns)
    if best is None:
        expected = ", ".join(f"{f} ({_ALIASES[f][1]})" for f in REQUIRED_COLUMNS)
        raise CatalogImportError(f"no header row found; expected columns: {expected}")
    missing = next(c for c in REQUIRED_COLUMNS if c not in best[1])
    raise CatalogImportError(
        f"required column {missing!r} ({_ALIASES[missing][1]}) is missing", row=best[0], column=missing
    )


def _header_field(text: str) -> str | None:
    cleaned = text.replace("*", "").strip().lower()
    if not cleaned:
        return None
    whole = _HEADER_LOOKUP.get(cleaned) or _HEADER_LOOKUP.get(re.sub(r"[\s-]+", "_", cleaned))
    if whole:
        return whole
    # Bilingual cells such as "小类代码 category_code" or "小类代码（category_code）".
    found = {_HEADER_LOOKUP.get(token) for token in re.split(r"[\s()（）|/]+", cleaned) if token} - {None}
    return found.pop() if len(found) == 1 else None


class _RowParser:
    """Validates data rows one by one, collecting problems instead of stopping at the first."""

    def __init__(self, columns: dict[str, int]) -> None:
        self.columns = columns
        self.problems: list[CatalogImportError] = []
        self.seen: dict[tuple[str, str, str, str], int] = {}
        self.names: dict[tuple[str, str, str], tuple[str, int]] = {}
        self.builtin = {edition.code: edition for edition in load_builtin()}

    def parse(self, rows: Iterable[tuple[int, list[Cell]]]) -> list[FilingRow]:
        result: list[FilingRow] = []
        for number, cells in rows:
            if len(self.problems) >= MAX_PROBLEMS:
                break
            if not any(_text(c) for c in cells):
                continue
            row = self._parse_row(number, cells)
            if row is not None:
                result.append(row)
        if self.problems:
            first = self.problems[0]
            more = len(self.problems) - 1
            suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
            raise CatalogImportError(
                first.message + suffix, row=first.row, column=first.column, problems=self.problems
            )
        if not result:
            raise CatalogImportError("the file has a header but no filing conditions")
        return result

    def _fail(self, number: int, column: str, message: str) -> None:
        self.problems.append(CatalogImportError(message, row=number, column=column))

    def _cell(self, cells: list[Cell], column: str) -> Cell:
        index = self.columns.get(column)
        return cells[index] if index is not None and index < len(cells) else None

    def _required(self, number: int, cells: list[Cell], column: str) -> str | None:
        text = _text(self._cell(cells, column))
        if not text:
            merged = column.startswith("category")
            hint = "; if the cell is merged, unmerge it and fill every row" if merged else ""
            self._fail(number, column, f"{column} ({_ALIASES[column][1]}) is empty{hint}")
            return None
        return text

    def _parse_row(self, number: int, cells: list[Cell]) -> FilingRow | None:
        before = len(self.problems)
        edition = self._edition(number, cells)
        code = self._category_code(number, cells, edition)
        condition = self._condition_code(number, cells)
        description = self._required(number, cells, "description")
        value = self._deadline_value(number, cells)
        unit = self._deadline_unit(number, cells)
        closing = self._required(number, cells, "closing_condition")
        name = _text(self._cell(cells, "category_name")) or None
        kind = self._kind(number, cells, edition, code, name)
        department_text = _text(self._cell(cells, "department"))
        department = _DEPARTMENT_WORDS.get(department_text.lower(), department_text) or None
        if (
            edition is None
            or code is None
            or condition is None
            or description is None
            or value is None
            or unit is None
            or closing is None
            or kind is None
            or len(self.problems) > before
        ):
            return None
        if not self._unique(number, edition, kind, code, condition, name):
            return None
        return FilingRow(
            edition, kind, code, name, condition, description, value, unit, closing, department, number
        )

    def _edition(self, number: int, cells: list[Cell]) -> str | None:
        text = _compact(_text(self._cell(cells, "edition")))
        if not text:
            return DEFAULT_EDITION
        wanted = re.sub(r"^GB/?T", "", text.upper())
        for edition in SUBCLASS_CODE_LENGTHS:
            bare = re.sub(r"^GB/?T", "", _compact(edition).upper())
            if wanted in (bare, bare.split("-")[0]):
                return edition
        known = ", ".join(SUBCLASS_CODE_LENGTHS)
        self._fail(number, "edition", f"unknown edition {text!r}; use one of: {known}")
        return None

    def _category_code(self, number: int, cells: list[Cell], edition: str | None) -> str | None:
        raw = self._cell(cells, "category_code")
        if edition is None:
            return None
        length = SUBCLASS_CODE_LENGTHS[edition]
        # A number cell has lost its leading zero (Excel turns 06010 into 6010); text is taken as typed.
        text = _number_code(raw, length) if isinstance(raw, int | float) else _compact(_text(raw))
        if not text:
            return self._required(number, cells, "category_code")
        if len(text) != length or not text.isdigit() or text.startswith("00"):
            short = len(text) == length - 1
            hint = " (Excel drops leading zeros: format the column as text)" if short else ""
            self._fail(
                number,
                "category_code",
                f"subclass code {text!r} must be {length} digits in {edition}, e.g. "
                f"{'06010' if length == 5 else '0102'}{hint}",
            )
            return None
        return text

    def _condition_code(self, number: int, cells: list[Cell]) -> str | None:
        raw = self._cell(cells, "condition_code")
        text = _number_code(raw, 2) if isinstance(raw, int | float) else _compact(_text(raw))
        if not text:
            return self._required(number, cells, "condition_code")
        # "1" and "01" are the same condition; standards number them 01, 02 …
        return text.zfill(2) if text.isdigit() else text

    def _deadline_value(self, number: int, cells: list[Cell]) -> float | None:
        raw = self._cell(cells, "deadline_value")
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            value = float(raw)
        else:
            text = _compact(_text(raw))
            if not text:
                self._required(number, cells, "deadline_value")
                return None
            try:
                value = float(text)
            except ValueError:
                self._fail(number, "deadline_value", f"deadline_value {text!r} is not a number")
                return None
        if not math.isfinite(value) or value <= 0:
            self._fail(number, "deadline_value", f"deadline_value must be greater than 0, not {value:g}")
            return None
        return value

    def _deadline_unit(self, number: int, cells: list[Cell]) -> TimeUnit | None:
        text = self._required(number, cells, "deadline_unit")
        if text is None:
            return None
        try:
            return parse_unit(unicodedata.normalize("NFKC", text))
        except ValueError as exc:
            self._fail(number, "deadline_unit", str(exc))
            return None

    def _kind(
        self, number: int, cells: list[Cell], edition: str | None, code: str | None, name: str | None
    ) -> Kind | None:
        text = _compact(_text(self._cell(cells, "kind")))
        if text:
            kind = _KIND_WORDS.get(text.lower())
            if kind is None:
                self._fail(number, "kind", f"unknown kind {text!r}; use 部件/component or 事件/事项/event")
            return kind
        if edition is None or code is None:
            return None
        known = [c for c in self.builtin[edition].categories if c.code == code]
        by_name = [c.kind for c in known if name and c.name == name]
        kinds = {c.kind for c in known}
        if by_name:
            return by_name[0]
        return kinds.pop() if len(kinds) == 1 else "event"

    def _unique(
        self, number: int, edition: str, kind: str, code: str, condition: str, name: str | None
    ) -> bool:
        key = (edition, kind, code, condition)
        if key in self.seen:
            self._fail(
                number,
                "condition_code",
                f"condition {condition} of {code} is already given in row {self.seen[key]}",
            )
            return False
        self.seen[key] = number
        if name:
            earlier = self.names.setdefault((edition, kind, code), (name, number))
            if earlier[0] != name:
                self._fail(
                    number,
                    "category_name",
                    f"{code} is named {name!r} here but {earlier[0]!r} in row {earlier[1]}",
                )
                return False
        return True


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime | date | time):
        return cell.isoformat()
    return str(cell).strip()


def _compact(text: str) -> str:
    """Fold full-width digits and letters (０６０１０) and drop inner spaces; only for code-like cells."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _number_code(cell: int | float, width: int) -> str:
    """Code text of a number cell; bools and fractions stay as typed so that validation rejects them."""
    if isinstance(cell, bool) or (isinstance(cell, float) and not cell.is_integer()):
        return str(cell)
    return str(int(cell)).zfill(width)


# --- template ---------------------------------------------------------------------------------------------

FILING_TEMPLATE_HEADERS: tuple[str, ...] = (
    "版本 edition",
    "类型 kind",
    "小类代码* category_code",
    "小类名称 category_name",
    "条件编号* condition_code",
    "立案条件* description",
    "处置时限* deadline_value",
    "时限单位* deadline_unit",
    "结案条件* closing_condition",
    "责任部门 department",
)

_TEMPLATE_EXAMPLES: tuple[tuple[str | float, ...], ...] = (
    (
        DEFAULT_EDITION,
        "事项",
        "06010",
        "暴露垃圾",
        "01",
        "在主次干道、广场、公园等公共场所发现暴露垃圾",
        4,
        "工作时",
        "垃圾清理干净",
        "sanitation",
    ),
    (
        DEFAULT_EDITION,
        "事项",
        "09009",
        "机动车乱停放",
        "01",
        "机动车在人行道、绿地、广场等非停车区域乱停放，影响通行",
        3,
        "紧急工作时",
        "车辆已驶离或已依法处理",
        "enforcement",
    ),
)

_TEMPLATE_NOTES: tuple[tuple[str, str], ...] = (
    ("版本 edition", f"可留空，默认 {DEFAULT_EDITION}；旧版填 GB/T 30428.2-2013"),
    ("类型 kind", "部件 / 事项（事件）；可留空，默认按内置目录判断，否则为事项"),
    ("小类代码 category_code", "新版 5 位（大类 2 位 + 小类 3 位），旧版 4 位；请保持文本格式以保留前导 0"),
    ("小类名称 category_name", "代码不在目录中时必填，用于新建小类（所属大类 = 代码前两位）"),
    ("条件编号 condition_code", "同一小类内不可重复，如 01、02"),
    ("处置时限 deadline_value", "大于 0 的数字，可带小数"),
    ("时限单位 deadline_unit", "紧急工作时、工作时、工作日、自然日、分钟（或 urgent_hours 等英文）"),
    (
        "责任部门 department",
        "部门代码，如 enforcement（执法大队）、sanitation（环卫）、municipal（市政）、landscape（园林）",
    ),
)


def write_template(path: Path) -> None:
    """Write an XLSX template for a bureau: bilingual headers, two example rows, an instructions sheet."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new Workbook always has one sheet
    sheet.title = "立案标准"
    sheet.append(list(FILING_TEMPLATE_HEADERS))
    for example in _TEMPLATE_EXAMPLES:
        sheet.append(list(example))
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for index, header in enumerate(FILING_TEMPLATE_HEADERS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = header_font
        cell.fill = header_fill
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = 40 if "condition" in header or "description" in header else 18
        if "code" in header:
            # Text format so Excel keeps the leading zero of 06010 when a bureau types further rows.
            for row in range(2, 1001):
                sheet.cell(row=row, column=index).number_format = "@"
    sheet.freeze_panes = "A2"
    unit_letter = get_column_letter(FILING_TEMPLATE_HEADERS.index("时限单位* deadline_unit") + 1)
    units = DataValidation(type="list", formula1='"紧急工作时,工作时,工作日,自然日,分钟"', allow_blank=True)
    units.add(f"{unit_letter}2:{unit_letter}1000")
    sheet.add_data_validation(units)
    notes = workbook.create_sheet("说明")
    notes.append(["列 column", "说明 notes"])
    for note in _TEMPLATE_NOTES:
        notes.append(list(note))
    notes.column_dimensions["A"].width = 28
    notes.column_dimensions["B"].width = 80
    workbook.save(path)
