"""Analytics written once as Ibis expressions, run on DuckDB, PostgreSQL or PySpark.

Functions take and return Ibis tables; the engine is chosen in :mod:`.engine` only.
"""
