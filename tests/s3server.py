"""A local S3 server for tests: moto's server mode on 127.0.0.1, reached over real HTTP.

``s3_server`` (a pytest fixture in ``conftest.py``) starts one per test module and
points boto3 at it through ``MSGEVENTS_S3_ENDPOINT_URL`` with dummy credentials;
``env()`` gives the same variables for a ``msgevents`` subprocess.
"""

from __future__ import annotations

import gzip
from typing import Any

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing-access-key",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key-5d1e",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class S3Server:
    """moto's threaded server on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def env(self) -> dict[str, str]:
        """Environment for boto3 (and a msgevents subprocess) to use this server."""
        return {**CREDENTIALS, "MSGEVENTS_S3_ENDPOINT_URL": self.url, "AWS_EC2_METADATA_DISABLED": "true"}

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )

    def put(self, bucket: str, key: str, data: bytes | str, *, gzipped: bool = False) -> None:
        client = self.client()
        if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=bucket)
        body = data.encode() if isinstance(data, str) else data
        client.put_object(Bucket=bucket, Key=key, Body=gzip.compress(body) if gzipped else body)

    def stop(self) -> None:
        self._server.stop()
