from __future__ import annotations

import logging

# The format of http.server's per-request line, which runserver logs to "django.server".
_ACCESS_LINE = '"%s" %s %s'


class RunserverAccessLineFilter(logging.Filter):
    """Drop runserver's access line: ``django_prodkit.request`` already logs each request.

    runserver's other messages (bad requests, HTTPS on the HTTP port, broken pipes) pass.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != _ACCESS_LINE
