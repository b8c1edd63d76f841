"""For tests that kill a load at a known point: a RawStore that tells another process how many writes it
has queued and how many its writer thread has committed, so the test kills only once the writes made
before that point are committed (they are queued at once and committed while the next page downloads)."""

from __future__ import annotations

from pathlib import Path

from connectors.core.raw import RawStore


def report_path(warehouse: str | Path) -> Path:
    return Path(warehouse).with_suffix(".writes")


class ReportingStore(RawStore):
    """Writes "queued committed" (its writes so far) to report_path(warehouse) at each change."""

    def __init__(self, warehouse: str | Path):
        super().__init__(warehouse)
        self.report, self.queued, self.committed = report_path(warehouse), 0, 0

    def _tell(self) -> None:
        written = self.report.with_suffix(".writes-new")
        written.write_text(f"{self.queued} {self.committed}")
        written.replace(self.report)  # at once: the test never reads half a report

    def _submit(self, apply, records=0, cursor=None, combine=None):
        with self._changed:
            self.queued += 1
            self._tell()
        super()._submit(apply, records, cursor, combine)

    def _transaction(self, con, writes, gather=False):
        super()._transaction(con, writes, gather)  # (``writes`` then holds what it gathered too)
        with self._changed:
            self.committed += len(writes)
            self._tell()


def all_committed(warehouse: str | Path) -> bool:
    """Whether the ReportingStore of ``warehouse`` has committed every write it queued (a write is counted
    before it is queued, so no report means no write made)."""
    report = report_path(warehouse)
    queued, committed = report.read_text().split() if report.exists() else ("0", "0")
    return queued == committed
