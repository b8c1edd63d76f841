"""ETags in the raw store: written in one statement per transaction, read once per source instance."""

import duckdb
import pytest

from connectors.core.raw import ETAG_TABLE, RawStore


def test_etags_written_together_and_the_later_of_two_kept(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as store:
        assert store.get_etag("gh", "/repos/a/pulls?page=1") is None  # caches gh's (empty) ETags
        store.write([], etags=[("gh", "/repos/a/pulls?page=1", '"e1"'), ("gh", "/repos/a/pulls?page=2", '"e2"'),
                               ("gh", "/repos/a/pulls?page=1", '"e3"')])
        # The cached copy follows the write: page 1 has the later of its two ETags.
        assert store.get_etag("gh", "/repos/a/pulls?page=1") == '"e3"'
        assert store.get_etag("gh", "/repos/a/pulls?page=2") == '"e2"'
        assert store.get_etag("other", "/repos/a/pulls?page=1") is None
    with RawStore(tmp_path / "w.duckdb") as store:  # and so does the table a new store reads
        assert store.get_etag("gh", "/repos/a/pulls?page=1") == '"e3"'
        rows = store.con.execute(f"SELECT count(*) FROM {ETAG_TABLE}").fetchall()[0][0]
    assert rows == 2


def test_a_failed_write_leaves_no_etag_behind(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as store:
        with pytest.raises(duckdb.Error):
            store.write([("no such table!", "gh", [])], etags=[("gh", "/x", '"e1"')])
        assert store.get_etag("gh", "/x") is None
