"""Writing values that came from source systems (channels, ids, reasons) where they could
do harm: into a spreadsheet, or onto a terminal.

Every CSV the CLI writes goes through :func:`csv_text`, and every table through
:class:`SafeTable`, so one rule holds for all outputs, including ones added later.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any, cast

from rich.console import RenderableType
from rich.protocol import is_renderable
from rich.table import Column, Table
from rich.text import Text

# OWASP "CSV Injection": a spreadsheet evaluates a cell that starts with one of these as a
# formula (=HYPERLINK(...), @SUM(...), +cmd|...); a leading single quote makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number is safe as it is (a negative amount must stay a number in the sheet).
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
# C0 controls, DEL and C1 controls: ESC starts a terminal escape sequence (clear the screen,
# set the window title, hide text), and C1's CSI (U+009B) does the same on some terminals.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def csv_cell(value: Any) -> Any:
    """``value`` as a spreadsheet should see it: text that would start a formula gets a
    leading single quote; numbers and other values are left as they are."""
    formula = isinstance(value, str) and value.startswith(FORMULA_STARTS)
    return "'" + value if formula and not _PLAIN_NUMBER.fullmatch(value) else value


def csv_text(columns: list[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """A CSV document (header row, then ``rows``) with every cell made formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(c) for c in columns])
    writer.writerows([csv_cell(row.get(c)) for c in columns] for row in rows)
    return buffer.getvalue()


def terminal_safe(text: str) -> str:
    """``text`` with each control character shown as a visible escape (``\\x1b``, ``\\n``),
    so a value cannot drive the terminal or break a table's layout."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def safe_cell(value: Any) -> RenderableType:
    """A table cell of ``value``: its text with controls escaped, and never read as rich
    markup (a channel named ``[link=...]`` is shown, not obeyed)."""
    if isinstance(value, Text):
        return Text(terminal_safe(value.plain), style=value.style)
    if isinstance(value, str) or not is_renderable(value):
        return Text(terminal_safe(str(value)))
    return cast(RenderableType, value)  # other renderables (nested tables) are built by us


def safe_markup(text: str) -> str:
    """Untrusted ``text`` for a line printed with rich markup around it."""
    from rich.markup import escape

    return escape(terminal_safe(text))


class SafeTable(Table):
    """A rich table whose headers, title, caption and cells are all shown as plain text."""

    def __init__(self, *headers: Any, **kwargs: Any) -> None:
        for key in ("title", "caption"):
            if isinstance(kwargs.get(key), str):
                kwargs[key] = safe_cell(kwargs[key])
        super().__init__(
            *(Column(header=safe_cell(h)) if isinstance(h, str | Text) else h for h in headers),
            **kwargs,
        )

    def add_row(self, *renderables: RenderableType | None, **kwargs: Any) -> None:
        super().add_row(*(None if r is None else safe_cell(r) for r in renderables), **kwargs)
