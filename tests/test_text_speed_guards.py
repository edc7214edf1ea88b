"""The shortcuts of the text readers (extract, sender, language, listing, dates) answer as the plain forms do."""

from __future__ import annotations

import ipaddress
import random
import re
from pathlib import Path

import pytest

from bot.parse import dates, extract, language, listing, sender, source

# Values of Remote-MTA and Reporting-MTA fields, and pieces to build more from.
_DSN_VALUES = [
    "dns; mx.example.net",
    "dns;NEKONYAAN0022.apcprd01.prod.exchangelabs.com",
    "dsn; a27-159.smtp-out.us-west-2.amazonses.com",
    "mx.example.net [192.0.2.1]",
    "[192.0.2.1]",
    "dns; [IPv6:2001:db8::1]",
    "smtp; mx.example.net (192.0.2.1)",
    "x-local-hostname; host.example",
    "dns; mx.example.net\n",
    "dns; mx.example.net]]",
    "dns; mx.example.net;extra",
    "dns; ]",
    "dns;",
    "   ",
]
_DSN_PIECES = ["dns", "smtp", "x-a", ";", " ", "\t", "\n", "[", "]", "(", ")", "mx", ".", "-", ":", "é", "a", "1", "/"]


def _dsn_values() -> list[str]:
    rng = random.Random(7)
    made = ["".join(rng.choice(_DSN_PIECES) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    return _DSN_VALUES + made


def test_dsn_host_reads_the_run_as_the_lazy_pattern_did() -> None:
    lazy = re.compile(_DSN_PATTERN_LAZY, re.I)
    for value in _dsn_values():
        m = lazy.match((value.split(";", 1)[-1] if ";" in value else value).lstrip())
        host = m.group(1).strip(".[]").lower() if m else None
        assert extract.dsn_host(value) == (host or None), value


# The pattern ``_DSN_HOST`` replaces: the host as the shortest run that the rest can follow.
_DSN_PATTERN_LAZY = r"^(?:(?:dns|smtp|x-[\w-]++)\s*+;)?\s*+\[?([\w.\-:]+?)\]?(?:\s*+\(|\s*$|\s)"


def _plain_find_remote(text: str) -> tuple[str | None, str | None]:
    """``find_remote`` as each shape's search from its needle's first occurrence, every shape tried."""
    host: str | None = None
    ip: str | None = None
    lines = "\n" + text
    for needle, pattern, reach in extract._HOST_SHAPES:
        needles = (needle,) if isinstance(needle, str) else needle
        haystack = "\n" + text.lower() if needle is extract._FOLDED else lines
        if needle is extract._FOLDED and "=" not in text:
            continue
        found = [haystack.find(n) for n in needles if n in haystack]
        if not found:
            continue
        m = pattern.search(lines, max(0, min(found) - reach) if reach is not None else 0)
        groups = [g for g in m.groups() if g] if m else []
        if not groups:
            continue
        if extract.IPV4.fullmatch(groups[0]):
            ip = ip or groups[0]
            continue
        host = host or groups[0].lower().rstrip(".")
        if len(groups) > 1 and groups[1]:
            ip = ip or groups[1]
        if host and ip:
            break
    if ip is None and "LastAttemptedIP=" in text:
        ip = extract._last_attempted_ip(text)
    return host, ip


_HOST_PIECES = [
    *("host ", "host\n  ", "Host: ", "mx=", "MX = ", "connect to ", "Connection refused by ", "while talking to "),
    *("Remote server: ", "Remote host ", "remote server", "Server at ", " (192.0.2.1) returned", "[", "]", "(", ")"),
    *("mx.example.net", "a.b", "192.0.2.1", "2001:db8::1", "10.0.0.1", " does not like", " failed after I sent"),
    *("Connected to ", " but", "endpoint attempted was ", '"remoteMta": "dns; x.example"', "host=", "{FQDN=", "};{IP="),
    *("}", "LastAttemptedServerName=", "LastAttemptedIP=", ":25", ". ", ": ", "\n", " ", "'550 5.1.1 x'", "xhost "),
]


def _host_texts() -> list[str]:
    rng = random.Random(11)
    made = ["".join(rng.choice(_HOST_PIECES) for _ in range(rng.randint(1, 16))) for _ in range(4000)]
    samples = Path(__file__).parent / "samples"
    read = [source.read(p.read_bytes()).text for p in sorted(samples.rglob("*")) if p.is_file()]
    return [*read, *made]


def test_find_remote_finds_what_each_shapes_search_finds() -> None:
    for text in _host_texts():
        assert extract.find_remote(text) == _plain_find_remote(text), text
        assert extract.find_remote(text, text.lower()) == _plain_find_remote(text), text


def _in_some_network(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """``sender._internal`` as a test against every internal network of the address's version."""
    return any(address in net for net in sender._INTERNAL if net.version == address.version)


def _addresses() -> list[str]:
    rng = random.Random(5)
    edges = []
    for net in sender._INTERNAL:
        for number in (int(net.network_address), int(net.broadcast_address)):
            for step in (-1, 0, 1):
                if 0 <= number + step < 2**net.max_prefixlen:
                    edges.append(
                        str(
                            ipaddress.ip_address(number + step)
                            if net.version == 4
                            else ipaddress.IPv6Address(number + step)
                        )
                    )
    made = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(3000)]
    made += [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(1000)]
    made += [f"::ffff:{a}" for a in made[:500]] + [f"[{a}]" for a in made[:200]]
    return [*edges, *made, "mx.example.net", "1.2.3", "256.1.1.1", "fe80::1%eth0", "", "[]"]


def test_external_ip_tests_the_address_as_each_network_would(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = _addresses()
    fast = [sender.external_ip(token) for token in tokens]
    # the plain form: external_ip with the address tested against each network in turn
    monkeypatch.setattr(sender, "_internal", _in_some_network)
    for token, answer in zip(tokens, fast, strict=True):
        assert answer == sender.external_ip(token), token
        bare = token.strip("[]()")
        if ":" not in bare and not sender._IPV4_CHARS.issuperset(bare):  # a token passed over unparsed
            with pytest.raises(ValueError):
                ipaddress.ip_address(bare)


def _plain_by_words(sample: str) -> str | None:
    """``language._by_words`` as per-language sums of listed tokens and phrases, the best by name."""
    lowered = sample.lower()
    tokens = language._TOKEN.findall(lowered)
    if len(tokens) < 3:
        return None
    scores = {lang: sum(token in words for token in tokens) for lang, words in language._SINGLE.items()}
    for phrase, lang in language._PHRASE_LANG:
        if phrase in lowered:
            scores[lang] += 5
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] >= 2 else None


def _samples_by_words() -> list[str]:
    rng = random.Random(3)
    words = [w for listed in language._WORDS.values() for w in listed] + ["x", "mail", "550", "l'adresse", "—", "\n"]
    made = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 30))) for _ in range(3000)]
    return [*made, "de la the", "the the de de", "le la les de des", "", "a b"]


def test_by_words_picks_the_language_the_plain_sums_pick() -> None:
    for sample in _samples_by_words():
        assert language._by_words(sample) == _plain_by_words(sample), sample


def _plain_find_reporting(text: str) -> str | None:
    """``find_reporting`` with each pattern searched in the whole lower-cased text."""
    lowered = text.lower()
    m = extract._REPORTING.search(lowered) or extract._MAIL_SYSTEM_AT.search(lowered)
    return m.group(1).rstrip(".").lower() if m else None


_REPORTING_PIECES = [
    *("Generating server: ", "generated ", "Servidor de generación: ", "Erstellender Server : ", "生成サーバー：", " "),
    *(
        "This is the mail system at host ",
        "this is the ",
        "This is the qmail-send program at ",
        '"reportingMTA": "dsn;',
    ),
    *("reportingmta", "mx.example.net", "a.b.", "\n", ": ", "server", "general", "gerador", "생성 서버: ", "x"),
]


def test_find_reporting_finds_what_the_searches_find() -> None:
    rng = random.Random(13)
    made = ["".join(rng.choice(_REPORTING_PIECES) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    for text in [*_host_texts(), *made]:
        assert extract.find_reporting(text) == _plain_find_reporting(text), text


def _plain_clean_domain(text: str) -> str | None:
    """``sender._clean_domain`` measuring every label, and refusing an all-digit name on its own."""
    name = text.strip(".-_")
    labels = name.split(".")
    if len(labels) < 2 or "" in labels or max(map(len, labels)) > 63:
        return None
    if name.replace(".", "").isdigit():
        return None
    if not labels[-1].strip("0123456789-_"):
        return None
    return name


def test_clean_domain_refuses_what_the_plain_checks_refuse() -> None:
    rng = random.Random(17)
    pieces = ["a", "z", "0", "9", ".", "-", "_", "ab", "1", "x" * 30, "y" * 64, "b" * 63]
    made = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 10))) for _ in range(5000)]
    edges = ["192.0.2.1", "1.2", "a.1", "1.a", "x" * 63 + ".com", "x" * 64 + ".com", "a." + "b" * 62 + ".c"]
    for text in [*edges, *made]:
        assert sender._clean_domain(text) == _plain_clean_domain(text), text


def test_find_sender_reads_the_receivers_only_when_it_needs_them() -> None:
    # (report text, returned headers, whether the Received line is read)
    texts = [
        ("550 5.7.1 rejected", {"received": "from a.example ([192.0.2.9]) by mx.b.example; x"}, True),
        ("550 client host [198.51.100.7] blocked", {"received": "from a ([192.0.2.9]) by mx.b.example; x"}, False),
        ("550 5.7.1 rejected", {"from": "a@contoso.com"}, False),
        ("550 5.7.1 rejected", {}, False),
    ]
    asked: list[str] = []

    def receivers() -> tuple[str, ...]:
        asked.append("asked")
        return ("b.example",)

    for text, original, read in texts:
        asked.clear()
        assert sender.find_sender(text, original, receivers) == sender.find_sender(text, original, ("b.example",))
        assert len(asked) == read


class _AllHeadings(dict[tuple[bool, ...], tuple[str, ...]]):
    """Every heading for any text: the plain form of ``listing._HEADINGS_GATED``."""

    def __missing__(self, key: tuple[bool, ...]) -> tuple[str, ...]:
        return listing._DELIVERED_HEADINGS


def test_delivered_lists_find_what_every_heading_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(19)
    pieces = [*listing._DELIVERED_HEADINGS, "successfully", "delivered to the following", "succeeded", "delivery"]
    pieces += [":\n", "\n", "\n\n", " ", "a@b.example", "<c@d.example>", "Successfully Delivered To The Following"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    fast = [listing.not_failed(text) for text in texts]
    monkeypatch.setattr(listing, "_HEADINGS_GATED", _AllHeadings())
    for text, answer in zip(texts, fast, strict=True):
        assert answer == listing.not_failed(text), text


def _plain_blocks(text: str, spots: list[tuple[int, str]]) -> list[tuple[str | None, str]]:
    """``extract.blocks_for`` by its rule read plainly: a block runs from its address's line to the
    next spot (at most 3000 characters on), and ends before the line where another spot's address
    reappears (or at it, on the block's own line)."""
    wanted = {addr for _, addr in spots}
    blocks = []
    for i, (pos, addr) in enumerate(spots):
        end = min(spots[i + 1][0] if i + 1 < len(spots) else len(text), pos + 3000)
        for at, raw in extract.iter_addresses(text):
            other = raw.strip(".'`").lower()
            if pos < at < end and other in wanted and other != addr:
                cut = text.rfind("\n", pos, at) + 1
                end = cut if cut > pos else at
                break
        blocks.append((addr, text[text.rfind("\n", 0, pos) + 1 : end]))
    return blocks


def test_blocks_for_cuts_where_the_plain_rule_cuts() -> None:
    rng = random.Random(23)
    pieces = ["a@b.example", "A@B.example", "c@d.example", "e@f.example", " ", "\n", "550 x", "y" * 900, "'"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        every = extract.addresses_in(text, set())
        for spots in (every, every[:1], every[1:2], [s for s in every if s[1] == "a@b.example"]):
            found = [(f.recipient, f.diagnostic) for f in extract.blocks_for(text, spots)]
            assert found == _plain_blocks(text, spots), (text, spots)


_DAYS = (("1", "Jan", "1990"), ("31", "Dec", "2099"), ("29", "Feb", "2024"), ("6", "Dec", "2026"))


def test_parse_date_shifts_every_zone_as_a_timedelta_would(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [
        f"Thu, {day} {month} {year} {hour:02d}:{minute:02d}:07 {sign}{zone_hours:02d}{zone_minutes:02d}"
        for sign in "+-"
        for zone_hours in (0, 1, 5, 9, 12, 14, 23, 24, 99)
        for zone_minutes in (0, 15, 30, 45, 59, 60, 99)
        for day, month, year in _DAYS
        for hour, minute in ((0, 0), (23, 59))
    ]
    values += [value.replace("Thu, ", "").replace(" ", "  ", 1) for value in values[::7]]  # the library's reading
    fast = [dates.parse_date(value) for value in values]
    monkeypatch.setattr(dates, "_SHIFTS", {})  # every zone shifted by a timedelta of its own
    for value, when in zip(values, fast, strict=True):
        assert when == dates.parse_date(value), value


def test_match_near_finds_what_a_search_from_the_needle_finds() -> None:
    for text in _host_texts():
        lines = "\n" + text
        for needle, pattern, reach in extract._HOST_SHAPES:
            needles = (needle,) if isinstance(needle, str) else needle
            at = extract.first_of(lines, needles)
            if reach is None or at == -1 or needle is extract._FOLDED:
                continue
            near = extract._match_near(pattern, lines, needles, lines, at, reach)
            searched = pattern.search(lines, max(0, at - reach))
            assert (near and near.span()) == (searched and searched.span()), (text, needle)
