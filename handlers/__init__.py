"""Slack surface: thin handlers that unpack a payload, call the core in bot/, post the result.

    app.py          the Web API client, bolt's AsyncApp with every listener, the aiohttp app
    commands.py     /mailflow: the subcommand table (args.py parses the text)
    events.py       bounces pasted or uploaded in channels; the App Home tab
    interactive.py  checklist ticks, run / re-run buttons, the "Explain this bounce" shortcut
    watch.py        /mailflow watch, unwatch, watches (the book in Redis; mailflow worker re-probes)
    sender.py       /mailflow sender and the "Check the sender" button (bot/sender, cached like diagnoses)
    bot.py          dependencies, background work, the flows the listeners share
    io.py           replies (thread or response_url), locales, file downloads
    config.py       SlackConfig

Rendering is bot/render/blocks.py (pure); probing goes through bot.service.DiagnosisService.
"""

from handlers.app import SlackApp, build_app, build_web_app
from handlers.config import SlackConfig
from handlers.watch import Watches

__all__ = ["SlackApp", "SlackConfig", "Watches", "build_app", "build_web_app"]
