"""Signals of the errors capability.

``group_recorded`` is sent by the writer after it stored occurrences of one group, with
``group`` (the saved :class:`ErrorGroup`), ``new`` (the group did not exist before),
``regressed`` (it was resolved and occurred again) and ``occurrences`` (how many were
added by this write). Alerts listen to it; so can a project's own receivers. It is sent
from the writer thread, outside any request, and a receiver that raises is logged.
"""

from __future__ import annotations

from django.dispatch import Signal

group_recorded = Signal()
