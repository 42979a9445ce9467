"""Everyday failures for the error groups that ``seed_demo`` records.

Each one raises a real exception from a real function, so that a group's culprit and
traceback point here. Messages carry the values of the call (an order number, a
currency): prodkit strips them from the fingerprint, so each function makes one group
whatever it was called with.
"""

from __future__ import annotations

RATES = {"EUR": 1.0, "USD": 1.08, "CHF": 0.94}


def average_line_total(totals: list[int]) -> float:
    return sum(totals) / len(totals)  # ZeroDivisionError for an invoice without lines


def exchange_rate(currency: str) -> float:
    try:
        return RATES[currency]
    except KeyError:
        raise ValueError(f"unknown currency {currency!r}") from None


def charge_card(order_id: int) -> None:
    raise TimeoutError(
        f"the payment provider did not answer for order {order_id} within 5 s"
    )


def send_receipt(order_id: int) -> None:
    raise ConnectionRefusedError(
        f"mail server 127.0.0.1:2525 refused the receipt for order {order_id}"
    )


def export_orders(path: str) -> None:
    raise PermissionError(13, "Permission denied", path)


def decode_legacy_link(raw: bytes) -> str:
    return raw.decode("ascii")  # UnicodeDecodeError: old links carry Latin-1 bytes
