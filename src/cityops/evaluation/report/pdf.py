"""The monthly report as a PDF (reportlab): summary against last month, weekly trend and category charts, the grid
heat map drawn from the grids' own polygons, composite grades and supervision flags, all in a CJK font."""

from __future__ import annotations

import io
from collections.abc import Sequence
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, Polygon, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from cityops.evaluation import service
from cityops.evaluation.report.fonts import register
from cityops.evaluation.report.monthly import GridCell, MonthlyReport, fmt, fmt_change
from cityops.evaluation.report.xlsx import SUBJECT_ZH

WIDTH = A4[0] - 30 * mm
SERIES = (colors.HexColor("#1F4E79"), colors.HexColor("#C0504D"), colors.HexColor("#9BBB59"))
HEAT = ("#FFF7EC", "#FDD49E", "#FC8D59", "#D7301F", "#7F0000")


class _Styles:
    def __init__(self, font: str) -> None:
        self.font = font
        self.title = ParagraphStyle("t", fontName=font, fontSize=18, leading=24, spaceAfter=6)
        self.h2 = ParagraphStyle("h2", fontName=font, fontSize=13, leading=18, spaceBefore=10, spaceAfter=4,
                                 textColor=SERIES[0])
        self.body = ParagraphStyle("b", fontName=font, fontSize=9, leading=13)
        self.small = ParagraphStyle("s", fontName=font, fontSize=8, leading=11)


def _table(st: _Styles, rows: Sequence[Sequence[str]], widths: Sequence[float] | None = None) -> Table:
    t = Table([[Paragraph(escape(c), st.small) for c in r] for r in rows], colWidths=widths, repeatRows=1)
    t.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), SERIES[0]), ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                           ("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                           ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F2F2F2")])]))
    # Header text must be white too: Paragraph styles ignore TEXTCOLOR.
    for cell in t._cellvalues[0]:  # noqa: SLF001 - reportlab keeps cells here
        cell.style = ParagraphStyle("hw", parent=st.small, textColor=colors.white)
    return t


def _legend(st: _Styles, names: Sequence[str], x: float, y: float) -> Legend:
    lg = Legend()
    lg.x, lg.y, lg.fontName, lg.fontSize, lg.alignment = x, y, st.font, 8, "right"
    lg.colorNamePairs = list(zip(SERIES, names, strict=False))
    lg.columnMaximum = 1  # one row, side by side
    lg.dx = lg.dy = 8
    lg.deltax = 60
    return lg


def trend_chart(st: _Styles, rep: MonthlyReport) -> Drawing:
    d = Drawing(WIDTH, 150)
    ch = HorizontalLineChart()
    ch.x, ch.y, ch.width, ch.height = 35, 30, WIDTH - 60, 95
    ch.data = [[r.counts.filed for r in rep.weekly], [r.counts.closed for r in rep.weekly]]
    ch.categoryAxis.categoryNames = [r.label for r in rep.weekly]
    ch.categoryAxis.labels.fontName = ch.valueAxis.labels.fontName = st.font
    ch.categoryAxis.labels.fontSize = ch.valueAxis.labels.fontSize = 7
    ch.valueAxis.valueMin = 0
    for i in range(2):
        ch.lines[i].strokeColor, ch.lines[i].strokeWidth = SERIES[i], 1.5
    d.add(ch)
    d.add(String(0, 138, "按周立案数与结案数（件）", fontName=st.font, fontSize=9))
    d.add(_legend(st, ["立案数", "结案数"], WIDTH - 140, 145))
    return d


def category_chart(st: _Styles, rep: MonthlyReport, top: int = 12) -> Drawing:
    rows = rep.by_category[:top]
    h = 30 + 14 * max(1, len(rows))
    d = Drawing(WIDTH, h + 20)
    ch = HorizontalBarChart()
    ch.x, ch.y, ch.width, ch.height = 130, 15, WIDTH - 160, h - 15
    ch.data = [[r.counts.filed for r in reversed(rows)] or [0]]
    ch.categoryAxis.categoryNames = [r.label for r in reversed(rows)] or ["—"]
    ch.categoryAxis.labels.fontName = ch.valueAxis.labels.fontName = st.font
    ch.categoryAxis.labels.fontSize = ch.valueAxis.labels.fontSize = 7
    ch.valueAxis.valueMin = 0
    ch.bars[0].fillColor = SERIES[0]
    ch.barLabelFormat, ch.barLabels.fontName, ch.barLabels.fontSize = "%d", st.font, 7
    ch.barLabels.boxAnchor, ch.barLabels.dx = "w", 3
    d.add(ch)
    d.add(String(0, h + 8, f"按分类立案数（前 {top}）", fontName=st.font, fontSize=9))
    return d


def heat_colour(value: float, top: float) -> colors.Color:
    if top <= 0 or value <= 0:
        return colors.HexColor(HEAT[0])
    return colors.HexColor(HEAT[min(len(HEAT) - 1, 1 + int((value / top) * (len(HEAT) - 1) - 1e-9))])


def heat_map(st: _Styles, cells: Sequence[GridCell], height: float = 230) -> Drawing:
    d = Drawing(WIDTH, height + 30)
    d.add(String(0, height + 18, "网格立案热力图（颜色越深立案越多）", fontName=st.font, fontSize=9))
    pts = [p for c in cells for p in c.ring]
    if not pts:
        d.add(String(0, height / 2, "（无网格数据）", fontName=st.font, fontSize=9))
        return d
    x0, x1 = min(x for x, _ in pts), max(x for x, _ in pts)
    y0, y1 = min(y for _, y in pts), max(y for _, y in pts)
    import math

    # Equirectangular at the district's latitude keeps the map's proportions right.
    kx = math.cos(math.radians((y0 + y1) / 2))
    scale = min((WIDTH - 90) / max(1e-9, (x1 - x0) * kx), height / max(1e-9, y1 - y0))
    top = max((c.filed for c in cells), default=0)
    for c in cells:
        flat: list[float] = []
        for x, y in c.ring:
            flat += [(x - x0) * kx * scale, (y - y0) * scale + 5]
        d.add(Polygon(flat, fillColor=heat_colour(c.filed, top), strokeColor=colors.white, strokeWidth=0.5))
    lx = WIDTH - 70
    for i, col in enumerate(HEAT):
        d.add(Rect(lx, 10 + i * 14, 12, 12, fillColor=colors.HexColor(col), strokeColor=None))
    d.add(String(lx + 16, 12, "0", fontName=st.font, fontSize=7))
    d.add(String(lx + 16, 10 + (len(HEAT) - 1) * 14 + 2, f"{top} 件", fontName=st.font, fontSize=7))
    return d


def _rows_table(st: _Styles, first: str, rows: Sequence[service.Row]) -> Table:
    head = [first, "立案", "结案率", "按期结案率", "超期率", "按时到场率", "平均执法时长"]
    body = [[r.label, fmt(r.values["filed"], "count"), fmt(r.values["closing_rate"], "rate"),
             fmt(r.values["on_time_closing_rate"], "rate"), fmt(r.values["overdue_rate"], "rate"),
             fmt(r.values["on_time_arrival_rate"], "rate"), fmt(r.values["avg_enforcement_minutes"], "minutes")]
            for r in rows]
    return _table(st, [head, *body], [WIDTH * 0.25] + [WIDTH * 0.125] * 6)


def write_pdf(rep: MonthlyReport, *, font: str = "", font_index: int = 0) -> bytes:
    st = _Styles(register(font, font_index))
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=rep.title, author="cityops")
    story: list[object] = [
        Paragraph(rep.title, st.title),
        Paragraph(f"统计期 {rep.period.label}，对比上月 {rep.previous.label}；数据截至 "
                  f"{rep.as_of:%Y-%m-%d %H:%M} UTC（时区 {rep.timezone}）。口径见 docs/evaluation.md。", st.body),
        Paragraph("一、主要指标与上月对比", st.h2),
        _table(st, [["指标", "本月", "上月", "环比"]] + [
            [s.zh, fmt(s.current, s.kind), fmt(s.previous, s.kind), fmt_change(s.change, s.kind)]
            for s in rep.summary], [WIDTH * 0.34, WIDTH * 0.2, WIDTH * 0.2, WIDTH * 0.26]),
        KeepTogether([Paragraph("二、按周趋势", st.h2), trend_chart(st, rep)]),
        KeepTogether([Paragraph("三、按分类", st.h2), category_chart(st, rep)]),
        KeepTogether([Paragraph("四、网格热力", st.h2), heat_map(st, rep.grid)]),
        Paragraph("五、街道与专业部门", st.h2), _rows_table(st, "街道", rep.by_street), Spacer(1, 6),
        _rows_table(st, "专业部门", rep.by_department),
        Paragraph("六、综合评价", st.h2),
    ]
    for subject, scores in rep.composite.items():
        rows = [["排名", SUBJECT_ZH.get(subject, subject), "得分", "等级", "参评量"]]
        rows += [[str(i) if s.score.score is not None else "—", s.label,
                  "—" if s.score.score is None else f"{s.score.score:.1f}", s.score.grade or "—", str(s.score.cases)]
                 for i, s in enumerate(scores, start=1)]
        story.append(KeepTogether([Paragraph(f"{SUBJECT_ZH.get(subject, subject)}综合评价", st.body),
                                   _table(st, rows, [WIDTH * 0.1, WIDTH * 0.42, WIDTH * 0.16, WIDTH * 0.12,
                                                     WIDTH * 0.2]), Spacer(1, 6)]))
    story.append(Paragraph("七、全过程监督预警", st.h2))
    if not rep.flags:
        story.append(Paragraph("本月未发现预警。", st.body))
    for f in rep.flags:
        review = f"（已审核：{f.review.decision}）" if f.review else "（待审核）"
        nos = "、".join(c.case_no for c in f.flag.cases)
        what = escape(f.flag.summary_zh or f.flag.summary)
        story.append(Paragraph(f"<b>{escape(f.title_zh)}</b> · {escape(f.flag.subject)}：{what}{review}<br/>"
                               f"案卷：{nos}", st.small))
        story.append(Spacer(1, 4))
    doc.build(story)
    return out.getvalue()
