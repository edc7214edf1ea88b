"""``/mailflow summary`` on a full channel: the CPU work that runs in a thread, step by step.

A channel keeps at most ``bot.store.events.CAP`` events; the worst case is every one of them a
bounce with the most domains and recipients the store keeps. This times decoding the stored
events, counting them (``summarise``) and rendering the Slack message (``summary_message``),
best of ``--rounds``. The handler runs all three off the event loop (``asyncio.to_thread``).

    python bench/summary_full_channel.py [--rounds 5] [--lang ja]
"""

from __future__ import annotations

import argparse
import time

from bot import knowledge
from bot.render.summary import summary_message
from bot.store.events import CAP, _decoded
from bot.summary import MAX_DOMAINS, MAX_RECIPIENTS, Event, hash_recipient, summarise

CODES = ("5.1.1", "4.4.316", "5.7.1", "4.7.320", "5.2.2", "4.4.317", "5.7.509", "550")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lang", default="ja", choices=knowledge.LANGUAGES)
    args = parser.parse_args()
    events = [
        Event(
            "bounce",
            1.7e9 + i * 60,
            CODES[i % len(CODES)],
            None,
            "userunknown",
            tuple(f"d{(i + j) % 300}.example" for j in range(MAX_DOMAINS)),
            tuple(hash_recipient(f"u{i}.{j}@example.net") for j in range(MAX_RECIPIENTS)),
        )
        for i in range(CAP)
    ]
    stored = [b"0123abcd " + e.dumps() for e in events]
    ui = knowledge.load(args.lang).ui
    best = {"decode": float("inf"), "summarise": float("inf"), "render": float("inf")}
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        decoded = _decoded(stored)
        t1 = time.perf_counter()
        summary = summarise(decoded, since=0.0)
        t2 = time.perf_counter()
        summary_message(summary, ui, language=args.lang, window="7d")
        t3 = time.perf_counter()
        for name, took in (("decode", t1 - t0), ("summarise", t2 - t1), ("render", t3 - t2)):
            best[name] = min(best[name], took)
    size = sum(len(s) for s in stored) / 1e6
    print(f"{CAP} events ({size:.1f} MB stored), best of {args.rounds}:")
    for name, took in best.items():
        print(f"  {name:<10} {took * 1000:7.1f} ms")
    print(f"  {'total':<10} {sum(best.values()) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
