"""Values from source systems cannot run as spreadsheet formulas or drive the terminal
(issue 11, point 5)."""

import csv
import io

import pytest
from rich.console import Console

from leadledger.output import SafeTable, csv_cell, csv_text, safe_markup, terminal_safe


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tpaid", "'\tpaid"),
        ("\rpaid", "'\rpaid"),
        ("-12.50", "-12.50"),  # a negative amount stays a number
        ("paid_search", "paid_search"),
        ("a=b", "a=b"),
    ],
)
def test_csv_cells_that_would_start_a_formula_get_a_leading_quote(value: str, written: str) -> None:
    assert csv_cell(value) == written


def test_csv_text_escapes_headers_and_cells_and_reads_back() -> None:
    text = csv_text(["channel", "value"], [{"channel": "=1+1", "value": 5}, {"channel": "web"}])
    assert list(csv.reader(io.StringIO(text))) == [
        ["channel", "value"], ["'=1+1", "5"], ["web", ""],
    ]  # fmt: skip


def test_control_characters_become_visible_escapes() -> None:
    assert terminal_safe("a\x1b]0;title\x07b\x1b[2J\x9b1m\tc\nd\x7f") == (
        "a\\x1b]0;title\\x07b\\x1b[2J\\x9b1m\\tc\\nd\\x7f"
    )
    assert terminal_safe("Zürich — 東京") == "Zürich — 東京"


def test_a_table_shows_controls_and_markup_as_text() -> None:
    table = SafeTable("channel", "web\x1b[2J", title="[red]t", caption="c\x1b")
    table.add_row("x\x1b]0;pwned\x07", "[bold]y[/bold]")
    table.add_row(None, "[/unbalanced]")
    shown = io.StringIO()
    Console(file=shown, width=200, color_system=None).print(table)
    text = shown.getvalue()
    assert "\x1b" not in text
    assert "\x07" not in text
    for visible in (
        "x\\x1b]0;pwned\\x07",
        "web\\x1b[2J",
        "[bold]y[/bold]",
        "[red]t",
        "[/unbalanced]",
    ):
        assert visible in text


def test_an_untrusted_message_is_not_read_as_markup() -> None:
    shown = io.StringIO()
    message = safe_markup("bad [/red] id \x1b[2J")
    Console(file=shown, width=200, color_system=None).print(f"[red]error:[/red] {message}")
    assert shown.getvalue() == "error: bad [/red] id \\x1b[2J\n"
