"""A generated Django project of N models for the deploy-gate benchmark.

The benchmark (``benchmarks/cases/deploy_gate.py``) runs each command in a fresh process, as
CI and a deploy script do, through ``python -m benchmarks.gate_schema.main``. The number of
models, the database and the PostgreSQL schema come from environment variables read by
``benchmarks.gate_schema.settings``; ``generate`` builds the model classes at import.
"""
