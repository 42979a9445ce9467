"""Glue to third-party services, each module importing its library only when imported.

:mod:`django_prodkit.integrations.sentry` needs the ``[sentry]`` extra (sentry-sdk).
"""
