"""What the benchmarks share: memory read from /proc, SQL grouped by its shape, and the floors'
one INSERT of journal rows.

Imported as `_common` by the scripts of this folder (run as `python bench/<name>.py`, the folder is
first on the path)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

# PostgreSQL on SSD, as the README's production-like mode sets it: random reads priced near
# sequential ones (the default, 4, models spinning disks). A database's settings are its own (a
# copy made from a template does not inherit them), so every database a benchmark creates or
# copies is given it, and the floors run under the same planner as the code they are set against.
RANDOM_PAGE_COST = "1.1"


def production_planner_sql(name: str) -> str:
    return f'ALTER DATABASE "{name}" SET random_page_cost = {RANDOM_PAGE_COST}'


def wait_for_quiet(cursor, *, load_below: float = 1.0, timeout_s: float = 300.0) -> dict:
    """Waits until PostgreSQL's autovacuum has nothing running (an earlier benchmark's writes
    are vacuumed in the background, on the same two cores) and the 1-minute load average is
    below `load_below`, or `timeout_s` passed: the pages are timed on a machine doing nothing
    else, as a production server between requests. What was waited is reported."""
    started = time.monotonic()
    while True:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
        )
        vacuuming = cursor.fetchone()[0]
        load = os.getloadavg()[0]
        waited = time.monotonic() - started
        if (not vacuuming and load < load_below) or waited >= timeout_s:
            return {
                "waited_s": round(waited, 1),
                "autovacuum_workers": vacuuming,
                "load_average_1min": round(load, 2),
                "quiet": not vacuuming and load < load_below,
            }
        time.sleep(2)


def status_mb(field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident since start, or since the last reset)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024


def reset_peak_rss() -> None:
    """Resets VmHWM to the current RSS (Linux >= 4.0), so the peak read later is the block's."""
    Path("/proc/self/clear_refs").write_text("5")


def shape(sql: str) -> str:
    """The SQL with its literals blanked, to group the statements that repeat."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+\b", "?", sql)
    return re.sub(r"(\?, )+\?", "?…", sql)


# The floors' journal: every row of a set in one INSERT … SELECT FROM unnest, as core.journal
# writes them (the same columns, the chain computed by the caller).
JOURNAL_COLUMNS = (
    "sequence, recorded_at, actor_id, actor_label, content_type_id, object_id, object_repr, "
    "transition, source_state, target_state, reason, snapshot, previous_hash, entry_hash"
)
JOURNAL_UNNEST = (
    f"INSERT INTO core_journalentry ({JOURNAL_COLUMNS}) SELECT sequence, recorded_at, actor_id, "
    "actor_label, content_type_id, object_id, object_repr, transition, source_state, "
    "target_state, reason, snapshot::jsonb, previous_hash, entry_hash FROM unnest(%s::bigint[], "
    "%s::timestamptz[], %s::integer[], %s::text[], %s::integer[], %s::text[], %s::text[], "
    "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) "
    f"AS t({JOURNAL_COLUMNS})"
)
