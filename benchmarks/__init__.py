"""Benchmarks: every Tutela figure beside its raw limit, measured in the same run.

Run ``python -m benchmarks`` (``make bench``); ``--quick`` for a few-second smoke run,
``--json`` for machine-readable output. The raw limit is the same work (same crypto, rows,
commits and SQLite settings) written directly with ``sqlite3`` and ``cryptography``; see
``benchmarks/raw.py`` (for data-subject requests on an application's database: hand-written
SQL on ``sqlite3`` or ``psycopg``, ``benchmarks/shop_raw.py``). Nothing here asserts on
timings.
"""
