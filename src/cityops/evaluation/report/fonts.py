"""Find a CJK TrueType font for PDF reports, or say exactly what to install.

reportlab embeds TrueType outlines only; CFF-based OpenType fonts (Noto Sans CJK, Source Han) are refused by it,
so the search lists TrueType CJK fonts that Debian packages ship.
"""

from __future__ import annotations

from pathlib import Path

from cityops.errors import AppError

FONT_NAME = "CityopsCJK"
CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # fonts-arphic-uming
)


class FontMissing(AppError):
    """The server cannot render Chinese into a PDF until a CJK TrueType font is installed (HTTP 503)."""

    status_code = 503
    code = "font_missing"


_registered: dict[tuple[str, int], str] = {}


def find_font(configured: str = "", candidates: tuple[str, ...] = CANDIDATES) -> Path:
    if configured:
        p = Path(configured)
        if not p.is_file():
            raise FontMissing(f"the configured report font {configured} does not exist "
                              "(evaluation configuration [report] font)", field="report.font")
        return p
    for c in candidates:
        if Path(c).is_file():
            return Path(c)
    raise FontMissing("PDF reports need a CJK TrueType font: install one (Debian: apt-get install "
                      "fonts-wqy-microhei) or set [report] font in the evaluation configuration; looked in: "
                      + ", ".join(candidates), field="report.font")


def register(configured: str = "", index: int = 0) -> str:
    """Register the font with reportlab once and return the name to use in styles and charts."""
    path = find_font(configured)
    key = (str(path), index)
    if key not in _registered:
        from reportlab.lib.fonts import addMapping
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFError, TTFont

        name = f"{FONT_NAME}{len(_registered)}"
        try:
            pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=index))
            # One face for all four styles, so <b> in a paragraph does not look for a bold file.
            for bold in (0, 1):
                for italic in (0, 1):
                    addMapping(name, bold, italic, name)
        except TTFError as e:
            raise FontMissing(f"the font {path} cannot be embedded in a PDF ({e}); use a TrueType CJK font such "
                              "as fonts-wqy-microhei", field="report.font") from e
        _registered[key] = name
    return _registered[key]
