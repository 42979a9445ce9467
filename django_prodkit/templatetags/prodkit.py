"""``{% load prodkit %}``: template helpers shared by prodkit's pages and yours."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from django_prodkit.security.csp import get_nonce

register = template.Library()


@register.simple_tag(takes_context=True)
def prodkit_nonce(context: template.Context) -> SafeString:
    """``nonce="..."`` for a ``<script>`` or ``<style>`` tag, or nothing without CSP.

    Works with Django 6's CSP and with django-csp, and needs no context processor:
    ``<script {% prodkit_nonce %}>``. Using it is what puts the nonce in the header.
    """
    request = getattr(context, "request", None) or context.get("request")
    nonce = get_nonce(request) if request is not None else None
    if nonce is None:
        return SafeString("")
    return format_html('nonce="{}"', nonce)
