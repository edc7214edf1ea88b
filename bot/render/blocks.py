"""Block Kit: the Slack form of an explanation, a diagnosis, its progress, help and history. Pure.

Data in, ``Message`` (blocks plus the plain-text ``text`` fallback) out; no I/O, no Slack SDK.
Every message is passed through ``fit`` last, which enforces Slack's limits so a message is
never rejected with ``invalid_blocks``: long content is split (section text over several
sections) or shortened (with an ellipsis), never refused:

    message               50 blocks (App Home view: 100); over that, the tail becomes one context line
    header                plain_text, 150 characters
    section               text 3000; fields 10, each 2000; block_id 255
    context               10 elements, each text 3000
    actions               25 elements
    button                text 75, value 2000, action_id 255
    checkboxes            10 options; option text 75, value 150, description 75

User-supplied text (the bounce, a domain typed in a command) is escaped (``&``, ``<``, ``>``;
Slack's own rule for message text), so nothing a user typed can become ``<!channel>``,
``<!here>``, a link or a mention. Mentions the bot makes itself use ids Slack gave it.

The checklist: one section per step with a one-option ``checkboxes`` accessory (block_id
``step:<id>``, action_id ``tick``); who ticked a step is in the option's description, so a
tick re-renders only the accessories (``apply_ticks``) and the step text is never re-parsed.

Labels come from ``knowledge/<lang>/ui.toml`` (the ``slack_*`` keys and the shared ones).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot import knowledge
from bot.diagnose import Diagnosis
from bot.explain import Explanation
from bot.fill import has_placeholders
from bot.parse import Bounce
from bot.parse.providers import provider_note
from bot.probes.result import ProbeResult
from bot.render.diagnosis import (
    ago,
    assumed_line,
    failure_help,
    filled_checklist,
    outcome_line,
    placeholder_note,
)
from bot.render.sender_target import ACTION_SENDER, SenderTarget
from bot.sender.offer import DOMAIN, IP, code_command, sender_command
from bot.texts import labelled
from bot.verdict import FAILURE_KNOWLEDGE, RESOLVER_UNREACHABLE

Block = dict[str, Any]

# --- Slack's limits (https://docs.slack.dev/reference/block-kit) -------------------------------
MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_BLOCK_ID = 255
MAX_OPTIONS = 10
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_FALLBACK = 3000  # Slack accepts 40,000; a notification needs far less

# Action ids the handlers listen to.
ACTION_TICK = "tick"
ACTION_RUN = "run_probes"
ACTION_RERUN = "rerun_probes"
STEP_PREFIX = "step:"
ANSWER_MARK = "~"  # step:<step id>~<answer id>: the answer's kept copy (tag_answer)


def label(ui: Mapping[str, str], name: str, /, **values: object) -> str:
    """The UI label ``name`` in the reader's language, filled in."""
    text = ui[name]
    return text.format(**values) if values else text


# --- text --------------------------------------------------------------------------------------

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,20}$")


def escape(text: str) -> str:
    """User text made inert for Slack: ``&``, ``<``, ``>`` escaped (no mentions, no links)."""
    return text.translate(_ESCAPES)


def mention(user_id: str) -> str:
    """``<@U123>`` for an id Slack gave us; anything else escaped as text."""
    return f"<@{user_id}>" if _USER_ID.match(user_id) else escape(user_id)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, never inside an ``&amp;`` escape."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at line ends, then spaces."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut <= limit // 2:
            cut = limit
            amp = rest.rfind("&", cut - 6, cut)
            if amp != -1 and ";" not in rest[amp:cut]:
                cut = amp
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest.strip() or not pieces:
        pieces.append(rest)
    return pieces


def _plain(text: str, limit: int = MAX_SECTION) -> Block:
    return {"type": "plain_text", "text": shorten(text, limit) or " ", "emoji": True}


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text or " "}


def header(text: str) -> Block:
    return {"type": "header", "text": _plain(text, MAX_HEADER)}


def section(text: str, *, block_id: str | None = None, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": _mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    if accessory:
        block["accessory"] = accessory
    return block


def fields_section(pairs: Sequence[tuple[str, str]]) -> Block:
    return {"type": "section", "fields": [_mrkdwn(f"*{name}*\n{value}") for name, value in pairs]}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(t) for t in texts if t]}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    element: Block = {"type": "button", "text": _plain(text, MAX_BUTTON_TEXT), "action_id": action_id, "value": value}
    if style:
        element["style"] = style
    return element


def divider() -> Block:
    return {"type": "divider"}


@dataclass(frozen=True, slots=True)
class Message:
    blocks: list[Block]
    text: str  # the notification / screen-reader fallback

    def as_kwargs(self) -> dict[str, Any]:
        return {"blocks": self.blocks, "text": self.text}


@dataclass(frozen=True, slots=True)
class Tick:
    """One checklist step's state, as kept in the store."""

    done: bool
    by: str  # the Slack user id who last changed it
    at: float

    def dumps(self) -> bytes:
        return json.dumps({"done": self.done, "by": self.by, "at": self.at}, separators=(",", ":")).encode()

    @classmethod
    def loads(cls, raw: bytes) -> Tick | None:
        try:
            data = json.loads(raw)
            return cls(bool(data["done"]), str(data["by"]), float(data["at"]))
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """What the run / re-run buttons probe (carried in the button value)."""

    target: str
    code: str | None = None
    smart_host: str | None = None
    require_tls: bool = False
    tls_domain: str | None = None
    language: str | None = None  # set when the request named one (--lang)

    def encode(self) -> str:
        data = {"t": self.target, "c": self.code, "s": self.smart_host, "r": self.require_tls, "d": self.tls_domain}
        data["l"] = self.language
        return shorten(json.dumps({k: v for k, v in data.items() if v}, separators=(",", ":")), MAX_BUTTON_VALUE)

    @classmethod
    def decode(cls, value: str) -> ProbeTarget | None:
        try:
            data = json.loads(value)
            return cls(
                str(data["t"]),
                data.get("c"),
                data.get("s"),
                bool(data.get("r", False)),
                data.get("d"),
                data.get("l"),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


# --- pieces ------------------------------------------------------------------------------------


def _steps_blocks(
    steps: Sequence[tuple[str, str]], ui: Mapping[str, str], ticks: Mapping[str, Tick], budget: int
) -> list[Block]:
    """One section with a checkbox per step; past ``budget`` blocks, the rest as one plain list."""
    blocks: list[Block] = []
    shown = steps if len(steps) <= budget else steps[: max(0, budget - 1)]
    for n, (step_id, text) in enumerate(shown, 1):
        blocks.append(
            section(
                shorten(f"*{n}.* {text}", MAX_SECTION),
                block_id=shorten(f"{STEP_PREFIX}{step_id}", MAX_BLOCK_ID),
                accessory=_checkbox(step_id, ui, ticks.get(step_id)),
            )
        )
    rest = steps[len(shown) :]
    if rest:
        lines = "\n".join(f"*{len(shown) + n}.* {text}" for n, (_, text) in enumerate(rest, 1))
        blocks += [section(piece) for piece in split_text(lines, MAX_SECTION)][:1]
    return blocks


steps_blocks = _steps_blocks  # for the other messages with a checklist (bot/render/sender.py)


def _checkbox(step_id: str, ui: Mapping[str, str], tick: Tick | None) -> Block:
    option: Block = {
        "text": _mrkdwn(shorten(label(ui, "slack_done"), MAX_OPTION_TEXT)),
        "value": step_id[:MAX_OPTION_VALUE],
    }
    if tick is not None:
        option["description"] = _mrkdwn(shorten(label(ui, "slack_ticked_by", user=mention(tick.by)), MAX_OPTION_TEXT))
    element: Block = {"type": "checkboxes", "action_id": ACTION_TICK, "options": [option]}
    if tick is not None and tick.done:
        element["initial_options"] = [option]
    return element


def step_of(block_id: str) -> tuple[str, str | None] | None:
    """(step id, answer id or None) of a checklist step's ``block_id``; None for any other block."""
    if not block_id.startswith(STEP_PREFIX):
        return None
    step_id, _, answer_id = block_id[len(STEP_PREFIX) :].partition(ANSWER_MARK)
    return step_id, answer_id or None


def tag_answer(message: Message, answer_id: str) -> Message:
    """``message`` with ``answer_id`` in each step's block_id, so a tick names the answer it belongs to.

    A tick on a message Slack does not send back (an ephemeral answer) is redrawn from the copy
    kept under that id.
    """
    suffix = f"{ANSWER_MARK}{answer_id}"
    blocks = []
    for block in message.blocks:
        step = step_of(str(block.get("block_id", "")))
        if step is not None and block.get("type") == "section":
            head = shorten(f"{STEP_PREFIX}{step[0]}", MAX_BLOCK_ID - len(suffix))
            blocks.append({**block, "block_id": head + suffix})
        else:
            blocks.append(block)
    return Message(blocks, message.text)


def has_steps(message: Message) -> bool:
    return any(step_of(str(b.get("block_id", ""))) is not None for b in message.blocks)


def apply_ticks(blocks: Sequence[Block], ticks: Mapping[str, Tick], ui: Mapping[str, str]) -> list[Block]:
    """``blocks`` (as Slack returns them in an action payload) with each step's checkbox redrawn."""
    out: list[Block] = []
    for block in blocks:
        step = step_of(str(block.get("block_id", "")))
        if block.get("type") == "section" and step is not None and "accessory" in block:
            step_id = step[0]
            out.append({**block, "accessory": _checkbox(step_id, ui, ticks.get(step_id))})
        else:
            out.append(block)
    return fit(out, ui=ui)


def _probe_line(result: ProbeResult, language: str) -> str:
    mark = "⏭️" if result.skipped else ("✅" if result.ok else "❌")
    code = f" `{result.code}`" if result.code else ""
    said = escape(result.says(language))
    return f"{mark} `{result.name}` {escape(result.target_in(language))}: {said}{code} _({result.elapsed_ms:.0f} ms)_"


def probe_blocks(
    results: Sequence[ProbeResult], ui: Mapping[str, str], language: str = knowledge.DEFAULT_LANGUAGE
) -> list[Block]:
    """The probe results as a compact list: one line each, pass/fail mark and evidence (in ``language``)."""
    if not results:
        return []
    lines = "\n".join(_probe_line(r, language) for r in results)
    return [section(piece) for piece in split_text(f"*{escape(ui['probes'])}*\n{lines}", MAX_SECTION)]


def _explanation_body(explanation: Explanation, ui: Mapping[str, str]) -> list[Block]:
    blocks = [
        section(piece) for piece in split_text(f"*{ui['what_happened']}*\n{escape(explanation.summary)}", MAX_SECTION)
    ]
    if explanation.causes:
        causes = "\n".join(f"• {escape(c.text)}" for c in explanation.causes)
        blocks += [section(piece) for piece in split_text(f"*{ui['causes']}*\n{causes}", MAX_SECTION)]
    return blocks


SHOWN_RECIPIENTS = 5  # in an answer's facts; the count of the rest follows


def recipients_more(recipients: Sequence[str], shown: int, ui: Mapping[str, str]) -> str:
    """What a capped recipient list leaves out: "… and 295 more (300 recipients in all)"."""
    return label(ui, "recipients_more", n=len(recipients) - shown, count=len(recipients))


def _facts(bounce: Bounce, ui: Mapping[str, str]) -> list[Block]:
    pairs: list[tuple[str, str]] = []
    recipients = bounce.recipients
    if recipients:
        shown = ", ".join(escape(r) for r in recipients[:SHOWN_RECIPIENTS])
        more = ""
        if len(recipients) > SHOWN_RECIPIENTS:
            more = " " + escape(recipients_more(recipients, SHOWN_RECIPIENTS, ui))
        pairs.append((ui["recipient"], shorten(shown, MAX_FIELD - 100 - len(more)) + more))
    if bounce.remote_host:
        pairs.append((ui["remote_server"], shorten(escape(bounce.remote_host), MAX_FIELD - 100)))
    if bounce.remote_ip:
        pairs.append((ui["remote_ip"], shorten(escape(bounce.remote_ip), MAX_FIELD - 100)))
    if bounce.reporting_server:
        pairs.append((ui["reporting_server"], shorten(escape(bounce.reporting_server), MAX_FIELD - 100)))
    if bounce.sender.domain:
        pairs.append((ui["sending_domain"], shorten(escape(bounce.sender.domain), MAX_FIELD - 100)))
    if bounce.sender.ip:
        pairs.append((ui["sending_ip"], shorten(escape(bounce.sender.ip), MAX_FIELD - 100)))
    others = [c.status or c.reply_code for c in bounce.codes if c != bounce.primary and (c.status or c.reply_code)]
    if others:
        pairs.append((ui["codes"], shorten(", ".join(dict.fromkeys(str(o) for o in others)), MAX_FIELD - 100)))
    if note := provider_note((d.diagnostic for d in bounce.deliveries), ui):
        pairs.append((ui["provider_code"], shorten(escape(note), MAX_FIELD - 100)))
    if not pairs:
        return []
    return [{"type": "section", "fields": [_mrkdwn(f"*{escape(n)}*\n{v}") for n, v in pairs[:MAX_FIELDS]]}]


def probe_domain(bounce: Bounce) -> str | None:
    """The domain a bounce points at: the first recipient's, else the remote server's name."""
    for recipient in bounce.recipients:
        domain = recipient.rsplit("@", 1)[-1].strip().strip(".").lower()
        if "." in domain and re.fullmatch(r"[a-z0-9.-]+", domain):
            return domain
    if bounce.remote_host and re.fullmatch(r"[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}", bounce.remote_host):
        return bounce.remote_host.lower()
    return None


# --- messages ----------------------------------------------------------------------------------


def explanation_message(
    bounce: Bounce,
    explanation: Explanation | None,
    ui: Mapping[str, str],
    *,
    ticks: Mapping[str, Tick] | None = None,
    language: str | None = None,
) -> Message:
    """The answer to a pasted bounce: header, what happened, facts, causes, run button, checklist."""
    primary = bounce.primary
    code = (primary.status or primary.reply_code) if primary else None
    if explanation is None:
        title = label(ui, "slack_unknown_code", code=code or "?")
        blocks = [header(f"{code or ''} {title}".strip()), *_facts(bounce, ui)]
        return Message(fit(blocks, ui=ui), shorten(title, MAX_FALLBACK))
    title = f"{explanation.code}  {explanation.title}"
    body = _explanation_body(explanation, ui)
    blocks = [header(title), *body[:1], *_facts(bounce, ui), *body[1:]]
    domain = probe_domain(bounce)
    elements: list[Block] = []
    if domain:
        target = ProbeTarget(domain, explanation.code if "." in explanation.code else None, language=language)
        elements.append(button(label(ui, "slack_run", domain=domain), ACTION_RUN, target.encode(), style="primary"))
    command = sender_command(bounce)
    if command and bounce.sender.domain:  # a sender-side refusal: offer the sender check
        mailfrom = bounce.sender.mailfrom if bounce.sender.mailfrom != bounce.sender.domain else None
        sender = SenderTarget(bounce.sender.domain, bounce.sender.ip, language, mailfrom)
        elements.append(button(label(ui, "slack_sender_check"), ACTION_SENDER, sender.encode()))
    if elements:
        blocks.append({"type": "actions", "block_id": "probe", "elements": elements})
    if command and not bounce.sender.domain:
        hint = [f"{escape(ui['sender_hint'])} `{escape(command)}`"]
        if not has_placeholders(explanation.checklist):
            hint.append(escape(ui["placeholder_note"]))
        blocks.append(context(*hint))
    steps = [(s.id, escape(s.text)) for s in explanation.checklist]
    if steps:
        blocks.append(section(f"*{escape(ui['checklist'])}*"))
        blocks += _steps_blocks(steps, ui, ticks or {}, MAX_BLOCKS - len(blocks) - 2)
    notes = [escape(ui["truncated"])] if bounce.truncated else []
    if not explanation.specific:
        notes.append(escape(ui["unknown_code"]))
    if has_placeholders(explanation.checklist):
        notes.append(escape(ui["placeholder_note"]))
    if notes:
        blocks.append(context(*notes))
    fallback = f"{title}: {explanation.summary}"
    return Message(fit(blocks, ui=ui), shorten(fallback, MAX_FALLBACK))


def code_message(code: str, explanation: Explanation | None, ui: Mapping[str, str]) -> Message:
    """``/mailflow <code>``: what the code means, its causes and checklist (nothing to tick)."""
    if explanation is None:
        text = label(ui, "slack_unknown_code", code=escape(code))
        return Message(fit([section(text)]), text)
    title = f"{explanation.code}  {explanation.title}"
    blocks = [header(title), *_explanation_body(explanation, ui)]
    if explanation.checklist:
        steps = "\n".join(f"{n}. {escape(s.text)}" for n, s in enumerate(explanation.checklist, 1))
        blocks += [section(p) for p in split_text(f"*{escape(ui['checklist'])}*\n{steps}", MAX_SECTION)]
    notes = [] if explanation.specific else [escape(ui["unknown_code"])]
    if has_placeholders(explanation.checklist):
        notes.append(escape(ui["placeholder_note"]))
    if notes:
        blocks.append(context(*notes))
    command = code_command(explanation.code)
    if command:
        slash = f"/mailflow sender {DOMAIN} [--ip {IP}]"
        hint = [f"{escape(ui['sender_hint'])} `{escape(slash)}`"]
        if not has_placeholders(explanation.checklist):
            hint.append(escape(ui["placeholder_note"]))
        blocks.append(context(*hint))
    return Message(fit(blocks, ui=ui), shorten(f"{title}: {explanation.summary}", MAX_FALLBACK))


def _verdict_title(diagnosis: Diagnosis, ui: Mapping[str, str]) -> str:
    """As the terminal says it: healthy, the connector code, the KB's words for a failure, or incomplete."""
    verdict = diagnosis.verdict
    domain = diagnosis.request.domain
    title = diagnosis.explanation.title if diagnosis.explanation else ""
    if verdict.healthy:
        return f"{domain}: {ui['healthy']}"
    if verdict.code is not None:
        return f"{domain}: {verdict.code}  {title}".rstrip()
    if verdict.failure in FAILURE_KNOWLEDGE:
        return f"{domain}: {title or verdict.failure}"
    if verdict.failure == RESOLVER_UNREACHABLE:
        return f"{domain}: {ui['resolver_unreachable']}"
    return f"{domain}: {ui['incomplete']}"


def diagnosis_message(
    diagnosis: Diagnosis,
    ui: Mapping[str, str],
    *,
    age_s: float = 0.0,
    from_cache: bool = False,
    ticks: Mapping[str, Tick] | None = None,
    language: str | None = None,
) -> Message:
    """The final answer of ``/mailflow diagnose``: verdict, probes, filled checklist, re-run button."""
    request = diagnosis.request
    title = _verdict_title(diagnosis, ui)
    blocks: list[Block] = [header(title)]
    said = [
        line for line in (failure_help(diagnosis, ui), outcome_line(diagnosis, ui), assumed_line(diagnosis, ui)) if line
    ]
    if said:
        blocks.append(section("\n".join(escape(line) for line in said)))
    if diagnosis.explanation is not None and not diagnosis.verdict.healthy:
        blocks += _explanation_body(diagnosis.explanation, ui)
    blocks += probe_blocks(diagnosis.results, ui, diagnosis.language)
    target = ProbeTarget(
        request.target, request.code, request.smart_host, request.require_tls, request.tls_domain, language
    )
    blocks.append(
        {
            "type": "actions",
            "block_id": "probe",
            "elements": [button(label(ui, "slack_rerun"), ACTION_RERUN, target.encode())],
        }
    )
    steps = [(str(s["id"]), escape(str(s["text"]))) for s in filled_checklist(diagnosis, ui)]
    if steps:
        blocks.append(section(f"*{escape(ui['checklist'])}*"))
        blocks += _steps_blocks(steps, ui, ticks or {}, MAX_BLOCKS - len(blocks) - 2)
    age = label(ui, "cached", age=ago(age_s)) if from_cache else label(ui, "slack_fresh")
    notes = [age, f"{diagnosis.elapsed_ms / 1000:.1f} s"]
    if note := placeholder_note(diagnosis, ui):
        notes.append(escape(note))
    if diagnosis.incomplete:
        notes.append(escape(labelled(ui, ui["incomplete"], ", ".join(diagnosis.incomplete))))
    blocks.append(context(*notes))
    return Message(fit(blocks, ui=ui), shorten(title, MAX_FALLBACK))


def progress_message(
    target: str, results: Sequence[ProbeResult], ui: Mapping[str, str], language: str = knowledge.DEFAULT_LANGUAGE
) -> Message:
    """The "diagnosing…" message, redrawn as probes finish."""
    title = label(ui, "slack_diagnosing", target=target)
    checks = probe_blocks(results, ui, language)
    blocks = [header(title), *checks, context(label(ui, "slack_checks_done", n=len(results)))]
    return Message(fit(blocks, ui=ui), shorten(title, MAX_FALLBACK))


def history_message(domain: str, entries: Iterable[Any], ui: Mapping[str, str], now: float | None = None) -> Message:
    """``/mailflow history <domain>``: the last verdicts, newest first (entries: HistoryEntry)."""
    now = time.time() if now is None else now
    title = label(ui, "slack_history_title", domain=domain)
    lines = []
    for entry in entries:
        code = f"`{entry.code}`" if entry.code else "✅"
        lines.append(f"• {ago(now - entry.at)}: {code} {escape(entry.summary)}")
    body = "\n".join(lines) or escape(label(ui, "slack_history_empty", domain=domain))
    blocks = [header(title), *[section(p) for p in split_text(body, MAX_SECTION)]]
    return Message(fit(blocks, ui=ui), shorten(title, MAX_FALLBACK))


def help_message(ui: Mapping[str, str], usages: Sequence[tuple[str, str]]) -> Message:
    """``/mailflow help``: ``usages`` is (usage line, label key) per subcommand."""
    title = label(ui, "slack_help_title")
    lines = [f"• `{escape(usage)}`: {label(ui, key)}" for usage, key in usages]
    lines.append(f"• {label(ui, 'slack_help_lang')}")
    blocks = [
        header(title),
        section(label(ui, "slack_help_intro")),
        section("\n".join(lines)),
        context(label(ui, "slack_help_shortcut")),
    ]
    return Message(fit(blocks, ui=ui), title)


def notice_message(text: str) -> Message:
    """A short reply (usage, rate limit, error id, duplicate): one section, already escaped."""
    return Message(fit([section(shorten(text, MAX_SECTION))]), shorten(text, MAX_FALLBACK))


def request_message(user_id: str, command: str, ui: Mapping[str, str]) -> Message:
    """The channel line a slash command's thread hangs under: who asked what."""
    text = label(ui, "slack_requested", user=mention(user_id), command=escape(shorten(command, 200)))
    return Message(fit([section(text)]), shorten(text, MAX_FALLBACK))


@dataclass(frozen=True, slots=True)
class RecentEntry:
    at: float
    domain: str
    code: str | None
    user: str
    failure: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def home_view(
    ui: Mapping[str, str], usages: Sequence[tuple[str, str]], recent: Sequence[RecentEntry], now: float | None = None
) -> Block:
    """The App Home tab: how to use mailflow, and the workspace's recent diagnoses."""
    now = time.time() if now is None else now
    help_blocks = help_message(ui, usages).blocks
    lines = []
    for entry in recent:
        verdict = f"`{entry.code}`" if entry.code else ("⚠️" if entry.failure else "✅")
        lines.append(f"• {ago(now - entry.at)}: *{escape(entry.domain)}* {verdict} ({mention(entry.user)})")
    body = "\n".join(lines) or escape(label(ui, "slack_home_empty"))
    blocks = [
        *help_blocks,
        divider(),
        header(label(ui, "slack_home_recent")),
        *[section(p) for p in split_text(body, MAX_SECTION)],
    ]
    return {"type": "home", "blocks": fit(blocks, ui=ui, max_blocks=MAX_VIEW_BLOCKS)}


# --- limits ------------------------------------------------------------------------------------


def _fit_text(obj: Any, limit: int) -> Any:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        return {**obj, "text": shorten(obj["text"], limit)}
    return obj


def _fit_option(option: Block) -> Block:
    option = {**option, "text": _fit_text(option.get("text"), MAX_OPTION_TEXT)}
    if "value" in option:
        option["value"] = str(option["value"])[:MAX_OPTION_VALUE]
    if "description" in option:
        option["description"] = _fit_text(option["description"], MAX_OPTION_TEXT)
    return option


def _fit_element(element: Block) -> Block:
    element = dict(element)
    if "action_id" in element:
        element["action_id"] = str(element["action_id"])[:MAX_ACTION_ID]
    if element.get("type") == "button":
        element["text"] = _fit_text(element.get("text"), MAX_BUTTON_TEXT)
        if "value" in element:
            element["value"] = shorten(str(element["value"]), MAX_BUTTON_VALUE)
    if "options" in element:
        element["options"] = [_fit_option(o) for o in element["options"]][:MAX_OPTIONS]
        values = {o.get("value") for o in element["options"]}
        if "initial_options" in element:
            kept = [_fit_option(o) for o in element["initial_options"] if o.get("value") in values]
            if kept:
                element["initial_options"] = kept
            else:
                del element["initial_options"]
    return element


def _fit_block(block: Block) -> list[Block]:
    block = dict(block)
    if "block_id" in block:
        block["block_id"] = str(block["block_id"])[:MAX_BLOCK_ID]
    kind = block.get("type")
    if kind == "header":
        block["text"] = _fit_text(block.get("text"), MAX_HEADER)
        return [block]
    if kind == "section":
        if "fields" in block:
            block["fields"] = [_fit_text(f, MAX_FIELD) for f in block["fields"]][:MAX_FIELDS]
        if "accessory" in block:
            block["accessory"] = _fit_element(block["accessory"])
        text = block.get("text")
        if isinstance(text, dict) and len(str(text.get("text", ""))) > MAX_SECTION:
            if "accessory" in block or "fields" in block or "block_id" in block:
                block["text"] = _fit_text(text, MAX_SECTION)
                return [block]
            return [{**block, "text": {**text, "text": piece}} for piece in split_text(str(text["text"]), MAX_SECTION)]
        return [block]
    if kind == "context":
        block["elements"] = [_fit_text(e, MAX_SECTION) for e in block.get("elements", [])][:MAX_CONTEXT_ELEMENTS]
        return [block]
    if kind == "actions":
        elements = [_fit_element(e) for e in block.get("elements", [])]
        block["elements"] = elements[:MAX_ACTIONS]
        return [block]
    return [block]


def fit(blocks: Sequence[Block], *, ui: Mapping[str, str] | None = None, max_blocks: int = MAX_BLOCKS) -> list[Block]:
    """``blocks`` made valid for Slack: every limit above enforced; nothing is ever refused.

    Blocks past ``max_blocks`` are replaced by one line saying how many (in ``ui``'s language)."""
    out: list[Block] = []
    for block in blocks:
        out += _fit_block(block)
    if len(out) > max_blocks:
        dropped = len(out) - (max_blocks - 1)
        out = [*out[: max_blocks - 1], context(label(ui, "slack_more", n=dropped) if ui else f"… +{dropped}")]
    return out
