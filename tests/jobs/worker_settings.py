"""Settings of the worker that ``test_prefork`` starts: the suite's, plus the database
(``PRODKIT_TEST_DATABASE``, JSON) from the environment, and a long pause between writes
so that only the worker process's shutdown stores the second dead letter."""

from __future__ import annotations

import json
import os

from tests.settings import *  # noqa: F403

DATABASES = {"default": json.loads(os.environ["PRODKIT_TEST_DATABASE"])}
PRODKIT = {"JOBS": {"FLUSH_SECONDS": 300}}
