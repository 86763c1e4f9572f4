"""``--input`` expansion: local globs and s3:// URLs listed from a local S3 server (moto's
server mode on 127.0.0.1, real HTTP); objects streamed; failures as typed errors.
"""

from __future__ import annotations

import gzip
import io
import uuid
from pathlib import Path

import pytest

from msgevents.errors import ConfigError, ProviderUnavailableError
from msgevents.objectstore import ObjectInput, expand_inputs, split_url


@pytest.fixture
def bucket(s3) -> str:
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.client().create_bucket(Bucket=name)
    return name


def urls(items) -> list[str]:
    return [str(item) for item in items]


def test_a_prefix_lists_every_object_under_it_in_key_order(s3, bucket):
    for key in ("ses/2024/11/04/b.gz", "ses/2024/11/04/a.gz", "ses/2024/11/05/c.gz", "other/x.gz"):
        s3.put(bucket, key, b"{}")
    s3.put(bucket, "ses/2024/11/04/", b"")  # a folder marker
    found = expand_inputs([f"s3://{bucket}/ses/2024/11/"])
    assert urls(found) == [
        f"s3://{bucket}/ses/2024/11/04/a.gz",
        f"s3://{bucket}/ses/2024/11/04/b.gz",
        f"s3://{bucket}/ses/2024/11/05/c.gz",
    ]
    assert all(isinstance(o, ObjectInput) and o.etag and o.size == 2 for o in found)
    assert found[0].name == "a.gz"
    assert urls(expand_inputs([f"s3://{bucket}/ses/2024/11"])) == urls(found)  # no slash: a prefix too
    assert len(expand_inputs([f"s3://{bucket}"])) == 4  # the whole bucket


def test_an_exact_key_is_that_object_only(s3, bucket):
    s3.put(bucket, "dump.jsonl", b"{}\n")
    s3.put(bucket, "dump.jsonl.gz", b"{}\n", gzipped=True)
    assert urls(expand_inputs([f"s3://{bucket}/dump.jsonl"])) == [f"s3://{bucket}/dump.jsonl"]


def test_globs_over_keys(s3, bucket):
    for key in ("f/2024-11-04-01.gz", "f/2024-11-04-02.gz", "f/2024-11-05-01.gz", "f/2024-11-04.txt"):
        s3.put(bucket, key, b"{}")
    found = expand_inputs([f"s3://{bucket}/f/2024-11-04-*.gz"])
    assert urls(found) == [f"s3://{bucket}/f/2024-11-04-01.gz", f"s3://{bucket}/f/2024-11-04-02.gz"]


def test_nothing_matching_is_a_configuration_error_naming_the_url(s3, bucket):
    with pytest.raises(ConfigError, match=f"s3://{bucket}/nothing/here/: no object matches"):
        expand_inputs([f"s3://{bucket}/nothing/here/"])
    with pytest.raises(ConfigError, match="no such bucket"):
        expand_inputs([f"s3://{bucket}-missing/x"])
    with pytest.raises(ConfigError, match="names no bucket"):
        expand_inputs(["s3:///key"])


def test_split_url():
    assert split_url("s3://bucket/a/b.gz") == ("bucket", "a/b.gz")
    assert split_url("S3://bucket") == ("bucket", "")


def test_objects_stream_their_bytes(s3, bucket):
    payload = b"".join(b'{"n": %d}\n' % n for n in range(50_000))
    s3.put(bucket, "big.jsonl.gz", payload, gzipped=True)
    (item,) = expand_inputs([f"s3://{bucket}/big.jsonl.gz"])
    with item.open() as raw, gzip.GzipFile(fileobj=raw) as unzipped:
        first = unzipped.readline()
        rest = unzipped.read()
    assert first + rest == payload


def test_an_object_replaced_after_listing_is_not_read_as_the_wrong_version(s3, bucket):
    s3.put(bucket, "k.json", b"[1]")
    (item,) = expand_inputs([f"s3://{bucket}/k.json"])
    s3.put(bucket, "k.json", b"[2, 3]")
    with pytest.raises(OSError, match=f"s3://{bucket}/k.json changed or disappeared"):
        item.open()


def test_an_unreachable_server_is_a_provider_failure(monkeypatch, s3):
    monkeypatch.setenv("MSGEVENTS_S3_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(ProviderUnavailableError, match="listing s3://b/x"):
        expand_inputs(["s3://b/x"])


def test_local_paths_and_globs(tmp_path):
    for name in ("opens_1.csv", "opens_2.csv", "clicks_1.csv"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "opens_3.csv").write_text("x")
    assert expand_inputs([str(tmp_path / "opens_*.csv")]) == [
        tmp_path / "opens_1.csv",
        tmp_path / "opens_2.csv",
    ]
    assert expand_inputs([str(tmp_path / "**" / "opens_*.csv")]) == [
        tmp_path / "opens_1.csv",
        tmp_path / "opens_2.csv",
        tmp_path / "sub" / "opens_3.csv",
    ]
    assert expand_inputs([tmp_path / "clicks_1.csv"]) == [tmp_path / "clicks_1.csv"]
    with pytest.raises(ConfigError, match="matches no file"):
        expand_inputs([str(tmp_path / "unsubscribes_*.csv")])
    with pytest.raises(ConfigError, match="no such file"):
        expand_inputs([str(tmp_path / "missing.csv")])


def test_a_file_whose_name_holds_a_wildcard_is_read_as_named(tmp_path):
    odd = tmp_path / "export[1].csv"
    odd.write_text("x")
    assert expand_inputs([str(odd)]) == [Path(odd)]


def test_a_read_failing_midway_is_an_oserror_naming_the_url():
    from msgevents.objectstore import _Body

    class Dropping(io.BytesIO):
        def read(self, size=-1):
            if self.tell() > 10:
                raise ConnectionResetError("peer reset")
            return super().read(min(size, 8))

    raw = io.BufferedReader(_Body(Dropping(b"x" * 100), "s3://b/k.gz"))
    with pytest.raises(OSError, match=r"reading s3://b/k\.gz failed midway: ConnectionResetError"):
        raw.read()


def test_the_summary_lists_a_few_inputs_and_counts_skipped_objects():
    from msgevents.report import RunReport

    report = RunReport(provider="ses", account="", sink="feed", destination="/f", mode="input")
    report.inputs = [f"s3://b/k{n}.gz" for n in range(40)]
    report.inputs_skipped = [f"s3://b/old{n}.gz" for n in range(7)]
    summary = report.summary()
    assert summary.count("  input s3://b/") == 10
    assert "… and 30 more inputs (see --report)" in summary
    assert "skipped 7 unchanged objects whose events earlier runs delivered" in summary
    assert report.as_dict()["inputs"] == report.inputs  # the report keeps them all
    assert report.as_dict()["inputs_skipped"] == report.inputs_skipped


def test_a_directory_is_not_a_file_and_says_so(tmp_path):
    with pytest.raises(ConfigError, match=r"is a directory; name its files or a glob"):
        expand_inputs([str(tmp_path)])
