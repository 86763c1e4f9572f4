"""Black-box: ``msgevents collect --input s3://…`` as a subprocess against a local S3 server
(moto's server mode on 127.0.0.1, real HTTP) and the CrossEngage emulator.

The provider is ``ses`` (Firehose objects are what lives in S3). Checked: every event once
across runs; a re-run lists the prefix and reads only new or changed objects; a damaged object
is a file error naming its URL (exit 4) while the other objects are delivered; after the
object is fixed, a re-run delivers the rest and nothing twice.
"""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from support import ROOT, subprocess_env

from msgevents.testing.crossengage_emulator import CrossEngageEmulator

pytestmark = pytest.mark.slow

API_KEY = "ce-key-for-s3-tests"
SES = ROOT / "examples" / "ses"


def records(count: int, start: int = 0) -> bytes:
    """``count`` SES Send records (one recipient each), concatenated as Firehose writes them."""
    out = []
    for n in range(start, start + count):
        out.append(
            json.dumps(
                {
                    "eventType": "Send",
                    "mail": {
                        "timestamp": f"2024-11-04T09:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
                        "messageId": f"msg-{n}",
                        "destination": [f"user{n}@example.com"],
                    },
                    "send": {},
                },
                separators=(",", ":"),
            )
        )
    return "".join(out).encode()


def collect(tmp_path: Path, s3, ce: CrossEngageEmulator, name: str, *inputs: str, **extra: str):
    env = subprocess_env(
        tmp_path,
        MSGEVENTS_CROSSENGAGE_API_KEY=API_KEY,
        MSGEVENTS_CROSSENGAGE_BASE_URL=ce.base_url,
        **s3.env(),
        **extra,
    )
    env.pop("AWS_PROFILE", None)
    env["AWS_SHARED_CREDENTIALS_FILE"] = env["AWS_CONFIG_FILE"] = str(tmp_path / "no-aws-config")
    args = [sys.executable, "-m", "msgevents", "collect", "--provider", "ses", "--to", "crossengage"]
    for spec in inputs:
        args += ["--input", spec]
    args += ["--report", str(tmp_path / f"{name}.json")]
    run = subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    report = (
        json.loads((tmp_path / f"{name}.json").read_text()) if (tmp_path / f"{name}.json").exists() else {}
    )
    return run, report


@pytest.fixture
def bucket(s3) -> str:
    return f"ses-events-{uuid.uuid4().hex[:10]}"


def object_gets(caplog, bucket: str) -> list[str]:
    """The object downloads the S3 server logged (werkzeug's request log), not listings."""
    return [r.getMessage() for r in caplog.records if f'"GET /{bucket}/' in r.getMessage()]


def test_a_prefix_is_delivered_once_and_a_rerun_reads_only_new_objects(tmp_path, s3, bucket, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    s3.put(bucket, "firehose/2024/11/04/09/a.gz", records(40), gzipped=True)
    s3.put(bucket, "firehose/2024/11/04/10/b.gz", records(25, start=40), gzipped=True)
    s3.put(bucket, "other/ignored.gz", records(5, start=900), gzipped=True)
    prefix = f"s3://{bucket}/firehose/2024/11/"
    with CrossEngageEmulator(api_key=API_KEY, faults=["503"]) as ce:
        first, r1 = collect(tmp_path, s3, ce, "r1", prefix)
        assert first.returncode == 0, first.stderr
        assert r1["totals"]["delivered"] == 65
        assert r1["inputs"] == [f"{prefix}04/09/a.gz", f"{prefix}04/10/b.gz"]

        assert len(object_gets(caplog, bucket)) == 2
        caplog.clear()
        second, r2 = collect(tmp_path, s3, ce, "r2", prefix)
        assert second.returncode == 0, second.stderr
        assert object_gets(caplog, bucket) == []  # listed, not downloaded
        assert r2["inputs"] == []
        assert sorted(r2["inputs_skipped"]) == r1["inputs"]
        assert r2["totals"]["delivered"] == 0
        assert "skipped 2 unchanged objects" in second.stderr

        s3.put(bucket, "firehose/2024/11/05/00/c.gz", records(10, start=100), gzipped=True)
        s3.put(bucket, "firehose/2024/11/04/10/b.gz", records(26, start=40), gzipped=True)  # rewritten
        third, r3 = collect(tmp_path, s3, ce, "r3", prefix)
        assert third.returncode == 0, third.stderr
        assert r3["inputs"] == [f"{prefix}04/10/b.gz", f"{prefix}05/00/c.gz"]
        assert r3["totals"]["delivered"] == 11  # b's new record and c
        assert r3["totals"]["already_delivered"] == 25
        accepted = [event for _identity, event in ce.accepted]
    assert len(accepted) == 76
    assert len({(e["timestamp"], e["properties"]["message_id"]) for e in accepted}) == 76


def test_a_damaged_object_is_a_file_error_naming_its_url_and_a_fixed_one_is_read_again(tmp_path, s3, bucket):
    good = records(30)
    broken = gzip.compress(records(3000, start=100))
    s3.put(bucket, "f/1.gz", good, gzipped=True)
    s3.put(bucket, "f/2.gz", broken[: len(broken) // 2])  # cut off midway
    s3.put(bucket, "f/3.gz", records(20, start=50), gzipped=True)
    with CrossEngageEmulator(api_key=API_KEY) as ce:
        first, r1 = collect(tmp_path, s3, ce, "r1", f"s3://{bucket}/f/")
        assert first.returncode == 4, first.stderr
        assert f"s3://{bucket}/f/2.gz" in first.stderr
        delivered_first = r1["totals"]["delivered"]
        assert delivered_first >= 50  # objects 1 and 3, and what object 2 held before the cut

        s3.put(bucket, "f/2.gz", records(3000, start=100), gzipped=True)  # fixed
        second, r2 = collect(tmp_path, s3, ce, "r2", f"s3://{bucket}/f/")
        assert second.returncode == 0, second.stderr
        assert r2["inputs"] == [f"s3://{bucket}/f/2.gz"]  # 1 and 3 were finished
        accepted = [event for _identity, event in ce.accepted]
    assert len(accepted) == 3050
    assert len({e["properties"]["message_id"] for e in accepted}) == 3050  # nothing twice


def test_a_prefix_without_objects_and_a_missing_bucket_exit_2(tmp_path, s3, bucket):
    s3.put(bucket, "x/1.gz", records(1), gzipped=True)
    with CrossEngageEmulator(api_key=API_KEY) as ce:
        empty, _ = collect(tmp_path, s3, ce, "r1", f"s3://{bucket}/nothing/")
        missing, _ = collect(tmp_path, s3, ce, "r2", f"s3://{bucket}-nope/x/")
    assert empty.returncode == 2
    assert f"s3://{bucket}/nothing/: no object matches" in empty.stderr
    assert missing.returncode == 2
    assert "no such bucket" in missing.stderr
    assert "testing-secret-key" not in empty.stderr + missing.stderr


def test_local_globs_select_the_sample_files(tmp_path, s3):
    with CrossEngageEmulator(api_key=API_KEY) as ce:
        run, report = collect(tmp_path, s3, ce, "r1", str(SES / "*.json*"))
    assert run.returncode == 0, run.stderr
    assert [Path(p).name for p in report["inputs"]] == [
        "firehose-20241104-0900.json.gz",
        "sns-notifications-20241104.jsonl",
    ]
    assert report["totals"]["delivered"] == 15


def test_objects_whose_events_wait_in_the_outbox_are_not_read_again(tmp_path, s3, bucket):
    s3.put(bucket, "f/1.gz", records(12), gzipped=True)
    url = f"s3://{bucket}/f/"
    with CrossEngageEmulator(api_key=API_KEY, fault_rates={"503": 1.0}) as down:
        first, r1 = collect(tmp_path, s3, down, "r1", url, MSGEVENTS_CROSSENGAGE_RETRIES="1")
        assert first.returncode == 4, first.stderr
        assert r1["totals"]["pending"] == 12, (r1, first.stderr)
        assert down.accepted == []
        port = int(down.base_url.rsplit(":", 1)[1])
    with CrossEngageEmulator(api_key=API_KEY, port=port) as up:  # the same destination, now up
        second, r2 = collect(tmp_path, s3, up, "r2", url)
        assert second.returncode == 0, second.stderr
        assert r2["outbox"]["sent"] == 12, (r2, second.stderr)  # the outbox went first
        assert r2["inputs"] == []  # the object was finished: its events were in the outbox
        assert len(up.accepted) == 12


def test_a_dry_run_remembers_nothing_and_another_sink_reads_everything(tmp_path, s3, bucket):
    s3.put(bucket, "f/1.gz", records(7), gzipped=True)
    url = f"s3://{bucket}/f/"
    env = {**s3.env(), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}

    def run(*args: str):
        return subprocess.run(
            [sys.executable, "-m", "msgevents", "collect", "--provider", "ses", "--input", url, *args],
            cwd=tmp_path,
            env=subprocess_env(tmp_path, **env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert run("--dry-run", "--to", "feed:a").returncode == 0
    first = run("--to", "feed:a", "--report", "a1.json")
    again = run("--to", "feed:a", "--report", "a2.json")
    other = run("--to", "feed:b", "--report", "b1.json")
    assert [first.returncode, again.returncode, other.returncode] == [0, 0, 0], first.stderr
    reports = {n: json.loads((tmp_path / f"{n}.json").read_text()) for n in ("a1", "a2", "b1")}
    assert reports["a1"]["totals"]["delivered"] == 7  # the dry run remembered nothing
    assert reports["a2"]["inputs"] == []
    assert reports["a2"]["inputs_skipped"] == [f"{url}1.gz"]
    assert reports["b1"]["totals"]["delivered"] == 7  # a new destination gets everything
