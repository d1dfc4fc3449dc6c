"""The monthly report as an Excel workbook (openpyxl): tables with real numbers (formats, not text), line and bar
charts, and the grid heat map as a colour-scaled map of the grids."""

from __future__ import annotations

import io
import statistics
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.comments import Comment
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from cityops.evaluation import service
from cityops.evaluation.formulas import BY_KEY
from cityops.evaluation.report.monthly import GridCell, MonthlyReport

HEAD = Font(bold=True, color="FFFFFF")
HEAD_FILL = PatternFill("solid", fgColor="1F4E79")
TITLE = Font(bold=True, size=14)
FORMATS = {"rate": "0.0%", "minutes": "0.0", "count": "0", "score": "0.00"}
SUBJECT_ZH = {"department": "专业部门", "street": "街道", "officer": "执法队员", "inspector": "监督员",
              "intake": "受理员", "dispatcher": "派遣员"}
TABLE_COLUMNS = ("filed", "closed", "closing_rate", "on_time_closing_rate", "on_time_handling_rate",
                 "overdue_rate", "on_time_arrival_rate", "avg_enforcement_minutes", "satisfaction_rate")


def _header(ws: Worksheet, row: int, values: Sequence[str]) -> None:
    for i, v in enumerate(values, start=1):
        c = ws.cell(row, i, v)
        c.font, c.fill = HEAD, HEAD_FILL
        c.alignment = Alignment(horizontal="center", wrap_text=True)


def _widths(ws: Worksheet, widths: Sequence[float]) -> None:
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w


def _put(ws: Worksheet, row: int, col: int, value: Any, kind: str) -> None:
    c = ws.cell(row, col, value)
    c.number_format = FORMATS.get(kind, "General")


def _row_table(ws: Worksheet, top: int, first: str, rows: Sequence[service.Row]) -> int:
    _header(ws, top, [first, *(BY_KEY[k].zh for k in TABLE_COLUMNS)])
    for i, r in enumerate(rows, start=top + 1):
        ws.cell(i, 1, r.label)
        for j, k in enumerate(TABLE_COLUMNS, start=2):
            _put(ws, i, j, r.values[k], BY_KEY[k].kind)
    return top + len(rows)


def _summary(wb: Workbook, rep: MonthlyReport) -> None:
    ws = wb.active
    assert ws is not None
    ws.title = "概览"
    ws["A1"] = rep.title
    ws["A1"].font = TITLE
    ws["A2"] = (f"统计期 {rep.period.label}（{rep.timezone}），对比 {rep.previous.label}；"
                f"数据截至 {rep.as_of:%Y-%m-%d %H:%M} UTC")
    _header(ws, 4, ["指标", "Indicator", "本月", "上月", "环比变化", "公式 Formula"])
    for i, s in enumerate(rep.summary, start=5):
        ws.cell(i, 1, s.zh)
        ws.cell(i, 2, s.en)
        _put(ws, i, 3, s.current, s.kind)
        _put(ws, i, 4, s.previous, s.kind)
        _put(ws, i, 5, s.change, s.kind)
        if s.kind == "rate":
            ws.cell(i, 5).number_format = '+0.0%;-0.0%;0.0%'
        ws.cell(i, 6, BY_KEY[s.key].formula)
    _widths(ws, (16, 30, 12, 12, 12, 70))


def _weekly(wb: Workbook, rep: MonthlyReport) -> None:
    ws = wb.create_sheet("周趋势")
    cols = ("filed", "closed", "closing_rate", "on_time_closing_rate", "on_time_arrival_rate")
    _header(ws, 1, ["周", *(BY_KEY[k].zh for k in cols)])
    for i, r in enumerate(rep.weekly, start=2):
        ws.cell(i, 1, r.label)
        for j, k in enumerate(cols, start=2):
            _put(ws, i, j, r.values[k], BY_KEY[k].kind)
    last = len(rep.weekly) + 1
    cats = Reference(ws, min_col=1, min_row=2, max_row=last)
    counts = LineChart()
    counts.title, counts.y_axis.title, counts.x_axis.title = "按周立案与结案", "件", "周"
    counts.add_data(Reference(ws, min_col=2, max_col=3, min_row=1, max_row=last), titles_from_data=True)
    counts.set_categories(cats)
    counts.height, counts.width = 7.5, 16
    ws.add_chart(counts, "H2")
    rates = LineChart()
    rates.title, rates.y_axis.title = "按周结案率、按期结案率、按时到场率", "比率"
    rates.y_axis.number_format = "0%"
    rates.add_data(Reference(ws, min_col=4, max_col=6, min_row=1, max_row=last), titles_from_data=True)
    rates.set_categories(cats)
    rates.height, rates.width = 7.5, 16
    ws.add_chart(rates, "H18")
    _widths(ws, (14, 10, 10, 10, 12, 12))


def _categories(wb: Workbook, rep: MonthlyReport) -> None:
    ws = wb.create_sheet("分类")
    last = _row_table(ws, 1, "分类", rep.by_category)
    top = min(last, 16)  # the chart shows the 15 biggest categories
    if top > 1:
        chart = BarChart()
        chart.type, chart.title, chart.y_axis.title = "bar", "按分类立案数（前 15）", "件"
        chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=top), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=top))
        chart.height, chart.width = 10, 16
        ws.add_chart(chart, "L2")
    _widths(ws, (22, *([11] * len(TABLE_COLUMNS))))


def grid_layout(cells: Sequence[GridCell]) -> dict[int, tuple[int, int]] | None:
    """(row, col) of each grid on a map-like matrix from centroids; None if grids are too irregular to place."""
    if not cells:
        return None
    cents = {c.id: (sum(x for x, _ in c.ring[:-1]) / max(1, len(c.ring) - 1),
                    sum(y for _, y in c.ring[:-1]) / max(1, len(c.ring) - 1)) for c in cells}
    w = statistics.median(max(x for x, _ in c.ring) - min(x for x, _ in c.ring) for c in cells)
    h = statistics.median(max(y for _, y in c.ring) - min(y for _, y in c.ring) for c in cells)
    if w <= 0 or h <= 0:
        return None
    x0 = min(x for x, _ in cents.values())
    y1 = max(y for _, y in cents.values())
    pos = {i: (round((y1 - y) / h), round((x - x0) / w)) for i, (x, y) in cents.items()}
    if len(set(pos.values())) != len(pos) or max(r for r, _ in pos.values()) > 200 or \
            max(c for _, c in pos.values()) > 200:
        return None
    return pos


def _grid(wb: Workbook, rep: MonthlyReport) -> None:
    ws = wb.create_sheet("网格热力")
    ws["A1"] = "网格立案热力图（颜色越深立案越多；鼠标悬停看网格名称）"
    ws["A1"].font = TITLE
    pos = grid_layout(rep.grid)
    top = 3
    if pos:
        rows = max(r for r, _ in pos.values()) + 1
        cols = max(c for _, c in pos.values()) + 1
        for cell in rep.grid:
            r, c = pos[cell.id]
            x = ws.cell(top + r, 1 + c, cell.filed)
            x.comment = Comment(f"{cell.name} ({cell.code})", "cityops")
            x.alignment = Alignment(horizontal="center")
        rng = f"A{top}:{get_column_letter(cols)}{top + rows - 1}"
        scale = ColorScaleRule(start_type="min", start_color="FFF7EC",  # type: ignore[no-untyped-call]
                               mid_type="percentile", mid_value=50, mid_color="FC8D59", end_type="max",
                               end_color="7F0000")
        ws.conditional_formatting.add(rng, scale)
        for c in range(1, cols + 1):
            ws.column_dimensions[get_column_letter(c)].width = 6
        top += rows + 2
    _header(ws, top, ["网格编码", "网格", "立案数", "超期率", "结案率"])
    for i, cell in enumerate(rep.grid, start=top + 1):
        ws.cell(i, 1, cell.code)
        ws.cell(i, 2, cell.name)
        _put(ws, i, 3, cell.filed, "count")
        _put(ws, i, 4, cell.overdue_rate, "rate")
        _put(ws, i, 5, cell.closing_rate, "rate")


def _areas(wb: Workbook, rep: MonthlyReport) -> None:
    ws = wb.create_sheet("街道与部门")
    end = _row_table(ws, 1, "街道", rep.by_street)
    _row_table(ws, end + 3, "专业部门", rep.by_department)
    _widths(ws, (22, *([11] * len(TABLE_COLUMNS))))


def _composite(wb: Workbook, rep: MonthlyReport) -> None:
    ws = wb.create_sheet("综合评价")
    row = 1
    for subject, scores in rep.composite.items():
        ws.cell(row, 1, f"{SUBJECT_ZH.get(subject, subject)}综合评价").font = TITLE
        _header(ws, row + 1, ["排名", "名称", "得分", "等级", "参评量"])
        for i, s in enumerate(scores, start=1):
            r = row + 1 + i
            ws.cell(r, 1, i if s.score.score is not None else None)
            ws.cell(r, 2, s.label)
            _put(ws, r, 3, s.score.score, "score")
            ws.cell(r, 4, s.score.grade or "—")
            _put(ws, r, 5, s.score.cases, "count")
        row += len(scores) + 3
    _widths(ws, (8, 22, 10, 8, 10))


def _flags(wb: Workbook, rep: MonthlyReport) -> None:
    ws = wb.create_sheet("监督预警")
    _header(ws, 1, ["规则", "Rule", "对象", "说明", "案卷数", "案卷号", "审核"])
    for i, f in enumerate(rep.flags, start=2):
        ws.cell(i, 1, f.title_zh)
        ws.cell(i, 2, f.flag.rule)
        ws.cell(i, 3, f.flag.subject)
        ws.cell(i, 4, f.flag.summary_zh or f.flag.summary)
        ws.cell(i, 5, len(f.flag.cases))
        ws.cell(i, 6, "、".join(c.case_no for c in f.flag.cases)).alignment = Alignment(wrap_text=True)
        ws.cell(i, 7, f.review.decision if f.review else "待审核")
    _widths(ws, (18, 18, 18, 48, 8, 60, 10))


def write_xlsx(rep: MonthlyReport) -> bytes:
    wb = Workbook()
    _summary(wb, rep)
    _weekly(wb, rep)
    _categories(wb, rep)
    _grid(wb, rep)
    _areas(wb, rep)
    _composite(wb, rep)
    _flags(wb, rep)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
