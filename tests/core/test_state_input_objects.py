"""The state's record of finished input objects (s3://…), by URL and ETag, per sink (both backends)."""

from __future__ import annotations

from msgevents.state import StateStore


def test_finished_objects_are_kept_per_provider_account_sink_url_and_etag(state_location):
    store = StateStore.open(state_location)
    try:
        sink = store.sink_id("feed:/a")
        other = store.sink_id("feed:/b")
        urls = [f"s3://b/k{n}.gz" for n in range(1000)]  # more than one IN (...) chunk
        store.remember_finished_objects("ses", "", sink, [(u, f'"etag-{u}"') for u in urls[:950]])
        store.remember_finished_objects("ses", "", sink, [("s3://b/k1.gz", '"new"')])
        found = store.finished_objects("ses", "", sink, urls)
        assert len(found) == 951
        assert ("s3://b/k1.gz", '"new"') in found
        assert ("s3://b/k1.gz", '"etag-s3://b/k1.gz"') in found
        assert store.finished_objects("ses", "", other, urls) == set()
        assert store.finished_objects("ses", "acct", sink, urls) == set()
        assert store.finished_objects("twilio", "", sink, urls) == set()
        assert store.finished_objects("ses", "", None, urls) == set()
    finally:
        store.close()
    readonly = StateStore.open_readonly(state_location)
    try:
        readonly.remember_finished_objects("ses", "", 1, [("s3://b/x", '"e"')])  # ignored
        assert readonly.finished_objects("ses", "", 1, ["s3://b/x"]) == set()
    finally:
        readonly.close()
