"""Renderers: the same bounce and explanation as a JSON record or as terminal text."""

from bot.render.record import bounce_record
from bot.render.terminal import render_code, render_text

__all__ = ["bounce_record", "render_code", "render_text"]
