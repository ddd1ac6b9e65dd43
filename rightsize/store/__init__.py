"""The SQLite store: the only state rightsize keeps.

It is written by the collector (live or replayed) and by ``rightsize import``,
and read back as arrays and pandas DataFrames by the analysis and by
notebooks (:func:`load`). The layout (schema v3, ``docs/architecture.md``):

- ``schema``: the tables version by version and the in-place migrations;
- ``files``: opening a file safely, read-only fallbacks, one-line errors;
- ``writer``: :class:`Store`, one transaction per collection round;
- ``chunks``: the row-wise head, sealing, compaction and rollup tiers;
- ``codec``: a chunk's columns as one compressed BLOB;
- ``rollup``: folding samples into time buckets without losing a peak;
- ``upgrade``: the v2 → v3 copy;
- ``reader``: :class:`Dataset` and :func:`load`.
"""

from rightsize.store.chunks import Retention
from rightsize.store.files import (
    DEFAULT_DB,
    LOCK_WAIT,
    MAX_PENDING_ROUNDS,
    ROUND_LOCK_WAIT,
    StoreLocked,
    StoreReadOnly,
    default_db_path,
    lock_holders,
    store_error,
)
from rightsize.store.reader import NUMERIC_SAMPLE_COLUMNS, Dataset, load
from rightsize.store.schema import SCHEMA_VERSION
from rightsize.store.writer import (
    CONTAINER_COLUMNS,
    EVENT_COLUMNS,
    HOST_COLUMNS,
    SAMPLE_COLUMNS,
    Store,
)

__all__ = [
    "CONTAINER_COLUMNS",
    "DEFAULT_DB",
    "EVENT_COLUMNS",
    "HOST_COLUMNS",
    "LOCK_WAIT",
    "MAX_PENDING_ROUNDS",
    "NUMERIC_SAMPLE_COLUMNS",
    "ROUND_LOCK_WAIT",
    "SAMPLE_COLUMNS",
    "SCHEMA_VERSION",
    "Dataset",
    "Retention",
    "Store",
    "StoreLocked",
    "StoreReadOnly",
    "default_db_path",
    "load",
    "lock_holders",
    "store_error",
]
