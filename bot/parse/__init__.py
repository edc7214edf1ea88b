"""The bounce parser: bytes or text in, a frozen ``Bounce`` out. Pure: no I/O, no logging.

    read (source.py)          raw input -> headers, report text, DSN blocks, returned original
                              (MIME via mime.py, a bounded reader; stdlib email as fallback)
    find_codes (codes.py)     every SMTP reply in the report, with nesting depth
    _Report (reading.py)      the report read once: its lower-cased text; its shapes, the
                              addresses it names and the block of text after each, its
                              opening's phrases and SMTP command, each computed on first need
                              and shared
    is it a bounce? (reading) evidence from DSN, headers and the text; chat, threads about
                              bounces and newsletters must say no
    deliveries (reading)      one per failed recipient, from DSN blocks or from the text
    classify (reason.py)      a reason per delivery, in Sisimai's vocabulary, from the status,
                              the phrase tables (phrases.py) and the SMTP command (command.py)

``parse_bounce`` never raises on bad input: garbage comes back as ``is_ndr=False`` with a reason.

The package's own module only gathers what callers use: ``parse_bounce`` (``reading.py``) and
the value objects it returns (``model.py``). The parser's modules but ``model.py`` are compiled
to C when installed (``pyproject.toml``, mypyc); this module is not, so that Python finds the
package's plain modules as it finds any package's.
"""

from bot.parse.model import Bounce, Code, Delivery, Sender
from bot.parse.reading import parse_bounce

__all__ = ["Bounce", "Code", "Delivery", "Sender", "parse_bounce"]
