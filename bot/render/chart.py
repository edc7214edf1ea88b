"""The war-room chart: bounces per time bucket, stacked by primary code, as a PNG.

matplotlib is an optional extra (``pip install 'mailflow[chart]'``: with numpy and Pillow, about
170 MB installed); ``require_matplotlib`` says so in one line when it is missing. The figure is
drawn on the Agg canvas directly (``Figure`` + ``FigureCanvasAgg``, no pyplot), so no display or GUI
toolkit is touched; the bot draws in a worker thread, one chart at a time (the font settings
are matplotlib's global state).

Readable in Slack's preview: 1200 x 675 px, large type, the top ``TOP_CODES`` codes labelled
"code title" in the reader's language and the rest summed as one grey "other" band, the legend
under the bars. Japanese and Korean titles need a font with those glyphs: the first installed
one of ``CJK_FONTS`` is used (Debian: fonts-noto-cjk, fonts-ipafont-gothic, fonts-nanum); with
none, the chart falls back to English labels and says so, rather than drawing empty boxes.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, cast

from bot import knowledge
from bot.errors import MailflowError
from bot.render.terminal import cut_to_width
from bot.settings import format_duration
from bot.summary import NO_CODE, Summary, code_title

WIDTH_PX: Final = 1200
HEIGHT_PX: Final = 675
DPI: Final = 100
TOP_CODES: Final = 7
MAX_LABEL: Final = 46  # cells (a CJK character takes two): two legend columns fit in 1200 px
CJK_FONTS: Final[Mapping[str, tuple[str, ...]]] = {
    "ja": ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic", "TakaoGothic", "VL Gothic"),
    "ko": ("Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "NanumBarunGothic", "UnDotum"),
}
_COLOURS: Final = ("#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_OTHER_COLOUR: Final = "#b0b0b0"
_DRAWING = threading.Lock()  # rc_context changes matplotlib's global settings: one chart at a time


class ChartUnavailable(MailflowError):
    """Charts need matplotlib: install the chart extra (pip install 'mailflow[chart]')."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__ or "")


def require_matplotlib() -> None:
    """ChartUnavailable unless matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401, PLC0415
    except ImportError:
        raise ChartUnavailable() from None


@functools.cache
def cjk_font(language: str) -> str | None:
    """The family to draw ``language`` with: None for Latin-script languages (the default font
    has them), the first installed of ``CJK_FONTS``, or "" when none is installed. Fonts
    installed after matplotlib built its font cache are found on disk and added."""
    wanted = CJK_FONTS.get(language)
    if not wanted:
        return None
    from matplotlib import font_manager  # noqa: PLC0415

    installed = {font.name for font in font_manager.fontManager.ttflist}
    found = next((name for name in wanted if name in installed), None)
    if found is not None:
        return found
    for path in font_manager.findSystemFonts():
        stem = Path(path).name.replace("-", "").replace("_", "").lower()
        if stem.startswith(("notosanscjk", "ipag", "ipaexg", "nanumgothic", "notosansjp", "notosanskr")):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in wanted if name in installed), "")


def local_duration(seconds: float, ui: Mapping[str, str]) -> str:
    """``format_duration``'s ``7d`` / ``5m`` in the reader's words (``7 j``, ``5分``)."""
    text = format_duration(seconds)
    return ui[f"duration_{text[-1]}"].format(n=text[:-1])


def chart_title(bucket_s: float, ui: Mapping[str, str]) -> str:
    """The chart's title: bounces per bucket, the bucket in the reader's words."""
    return ui["summary_chart_title"].format(bucket=local_duration(bucket_s, ui))


def _label(code: str, title: str | None) -> str:
    return cut_to_width(f"{code}  {title}" if title else code, MAX_LABEL)


def _tick(start: float, bucket_s: int, first: bool, previous: float | None) -> str:
    when = dt.datetime.fromtimestamp(start, dt.UTC)
    if bucket_s >= 28 * 86400:
        return when.strftime("%Y-%m")  # months or years apart: the year on every tick, no day
    if bucket_s >= 86400:
        new_year = previous is None or dt.datetime.fromtimestamp(previous, dt.UTC).year != when.year
        return when.strftime("%Y-%m-%d" if first or new_year else "%m-%d")
    new_day = previous is None or dt.datetime.fromtimestamp(previous, dt.UTC).date() != when.date()
    return when.strftime("%m-%d\n%H:%M" if first or new_day else "%H:%M")


def chart_png(summary: Summary, *, language: str = knowledge.DEFAULT_LANGUAGE) -> tuple[bytes, list[str]]:
    """The chart as PNG bytes, and notes for the reader (an English fallback, say)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    notes: list[str] = []
    font = cjk_font(language)
    if font == "":
        notes.append(f"no font for {language} is installed (Debian: fonts-noto-cjk): the chart's labels are in English")
        language = knowledge.DEFAULT_LANGUAGE
    ui = knowledge.load(language).ui
    rc: dict[str, Any] = {"font.size": 15, "axes.titlesize": 20, "legend.fontsize": 14}
    weight = "bold"
    if font:
        rc["font.family"] = [font, "DejaVu Sans"]
        weight = "normal"  # the CJK families here come in one weight: no "bold" to look for
    import matplotlib  # noqa: PLC0415

    with _DRAWING, matplotlib.rc_context(cast("Any", rc)):
        fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        line = summary.timeline
        title = chart_title(line.bucket_s, ui)
        if not line.starts:
            ax.set_axis_off()
            ax.text(0.5, 0.5, ui["summary_none"], ha="center", va="center", fontsize=22, transform=ax.transAxes)
            ax.set_title(title, loc="left", fontweight=weight)
        else:
            _bars(ax, summary, ui, language)
            ax.set_title(title, loc="left", fontweight=weight)
            ax.set_ylabel(ui["summary_chart_axis"])
            ax.set_xlabel("UTC", loc="right", fontsize=12, color="#555555")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(axis="y", alpha=0.3)
            ax.spines[["top", "right"]].set_visible(False)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue(), notes


def _bars(ax: Any, summary: Summary, ui: Mapping[str, str], language: str) -> None:
    line = summary.timeline
    totals: Counter[str] = Counter()
    for counts in line.counts:
        totals.update(counts)
    ranked = [code for code, _ in totals.most_common()]
    top, rest = ranked[:TOP_CODES], ranked[TOP_CODES:]
    keys = {g.name or NO_CODE: g.key for g in summary.by_code}
    positions = list(range(len(line.starts)))
    bottom = [0] * len(positions)
    series = [(code, [c.get(code, 0) for c in line.counts]) for code in top]
    if rest:
        series.append(("", [sum(c.get(code, 0) for code in rest) for c in line.counts]))
    width = 0.8 if len(positions) > 1 else 0.4
    for n, (code, heights) in enumerate(series):
        if code == "":
            name, colour = f"{ui['summary_chart_other']} ({len(rest)})", _OTHER_COLOUR
        else:
            shown = ui["summary_no_code"] if code == NO_CODE else code
            title = None if code == NO_CODE else code_title(code, keys.get(code), language)
            name, colour = _label(shown, title), _COLOURS[n % len(_COLOURS)]
        ax.bar(positions, heights, width, bottom=bottom, label=name, color=colour, edgecolor="white", linewidth=0.5)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    step = max(1, -(-len(positions) // 12))
    shown_at = positions[::step]
    labels, previous = [], None
    for i in shown_at:
        labels.append(_tick(line.starts[i], line.bucket_s, i == 0, previous))
        previous = line.starts[i]
    ax.set_xticks(shown_at, labels)
    ax.set_xlim(-0.6, len(positions) - 0.4)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, frameon=False)


def write_chart(summary: Summary, path: Path, *, language: str = knowledge.DEFAULT_LANGUAGE) -> list[str]:
    """Draw the chart into ``path``; the notes ``chart_png`` gives."""
    png, notes = chart_png(summary, language=language)
    path.write_bytes(png)
    return notes
