"""``--input`` from object storage and local globs: what to read, listed; objects streamed.

``--input`` takes local paths, local globs (``exports/opens_*.csv``,
``dumps/**/*.jsonl.gz``) and S3 URLs:

- ``s3://bucket/prefix/`` — every object under the prefix (a key ending with
  ``/`` is a folder marker and skipped);
- ``s3://bucket/key`` — that object, or, when no object has that exact key,
  every object under ``key/``;
- ``s3://bucket/2024/11/*.gz`` — a glob over keys (``*``, ``?``, ``[…]``;
  ``*`` also matches ``/``), listed from the prefix before the first wildcard.

Objects are listed in key order with their ETag and size, and each is one
input file: :meth:`ObjectInput.open` streams its bytes (nothing is downloaded
whole); a read that fails midway is an ``OSError`` naming the URL, which the
input reader turns into a file error.

S3 is reached with boto3 (the optional dependency ``msgevents[s3]``): the
standard AWS credential chain (environment, shared config and credentials
files, SSO, container and instance roles) and region settings apply.
``MSGEVENTS_S3_ENDPOINT_URL`` (or boto3's own ``AWS_ENDPOINT_URL``) points it
at an S3-compatible server (MinIO, a local test server).
"""

from __future__ import annotations

import glob
import io
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from msgevents.errors import AuthError, ConfigError, ProviderUnavailableError

__all__ = ["ObjectInput", "expand_inputs", "is_object_url", "s3_client", "split_url"]

SCHEME = "s3://"
_WILDCARD = re.compile(r"[*?\[]")
#: S3 error codes that mean the credentials were refused (exit 3).
_REFUSED = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "403"}
)


def is_object_url(spec: str) -> bool:
    """Whether ``spec`` names object storage (``s3://…``) rather than a local path."""
    return spec[: len(SCHEME)].lower() == SCHEME


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key/part`` → ``("bucket", "key/part")``; ConfigError for a URL without a bucket."""
    if not is_object_url(url):
        raise ConfigError(f"--input {url!r} is not an s3:// URL")
    bucket, _, key = url[len(SCHEME) :].partition("/")
    if not bucket:
        raise ConfigError(f"--input {url!r} names no bucket (s3://BUCKET/PREFIX)")
    return bucket, key


@dataclass(frozen=True)
class ObjectInput:
    """One object in S3: an input file the providers open with :func:`msgevents.inputs.open_input`.

    ``str()`` is its URL, which messages and the run report show; ``name`` is the
    last part of its key (providers read file names, e.g. ``opens_20241104.csv.gz``).
    """

    bucket: str
    key: str
    etag: str
    size: int
    client: Any = field(repr=False, compare=False, hash=False)

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}"

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return self.url

    def is_file(self) -> bool:
        """Listed objects exist (as a file does for ``Path.is_file``)."""
        return True

    def open(self, mode: str = "rb") -> io.BufferedReader:
        """The object's bytes as a buffered binary stream, read from S3 as they are consumed.

        The request asks for the listed version (``IfMatch`` the ETag): an object
        replaced since the listing fails to open rather than being read as the wrong one.
        """
        if mode != "rb":
            raise ValueError(f"objects open as 'rb' only, not {mode!r}")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
        except ClientError as exc:
            raise _client_error(exc, self.url) from None
        except BotoCoreError as exc:
            raise OSError(f"cannot read {self.url}: {exc}") from None
        return io.BufferedReader(_Body(answer["Body"], self.url), buffer_size=1 << 16)


class _Body(io.RawIOBase):
    """An S3 response body as a raw stream; any failure while reading is an ``OSError`` naming the URL."""

    def __init__(self, body: Any, url: str) -> None:
        self._body = body
        self._url = url

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._body.read(len(buffer))
        except Exception as exc:  # urllib3/botocore errors of a connection lost midway
            raise OSError(f"reading {self._url} failed midway: {type(exc).__name__}: {exc}") from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def s3_client() -> Any:
    """A boto3 S3 client: standard credential chain and region, ``MSGEVENTS_S3_ENDPOINT_URL``."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ConfigError(
            "reading s3:// inputs needs boto3: pip install 'msgevents[s3]' (or pip install boto3)"
        ) from None
    endpoint = os.environ.get("MSGEVENTS_S3_ENDPOINT_URL") or None
    retries: dict[str, Any] = {"mode": os.environ.get("AWS_RETRY_MODE") or "standard"}
    if not os.environ.get("AWS_MAX_ATTEMPTS"):  # boto3's own variable wins when set
        retries["total_max_attempts"] = 6
    config = Config(retries=retries, connect_timeout=10, read_timeout=60)
    return boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)


def _client_error(exc: Any, url: str) -> Exception:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = error.get("Message") or code
    if code in _REFUSED:
        return AuthError(f"S3 refused access to {url}: {message} ({code})")
    if code in ("NoSuchBucket", "InvalidBucketName"):
        return ConfigError(f"--input {url}: no such bucket ({message})")
    if code in ("NoSuchKey", "PreconditionFailed", "412", "404"):
        return OSError(f"{url} changed or disappeared since it was listed ({code})")
    return ProviderUnavailableError(f"S3 failed on {url}: {message} ({code})")


def list_objects(client: Any, url: str) -> list[ObjectInput]:
    """The objects ``url`` names (see the module docstring), in key order."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    bucket, key = split_url(url)
    try:
        match = _WILDCARD.search(key)
        if match:
            prefix, pattern = key[: match.start()], key
            found = [o for o in _listing(client, bucket, prefix) if fnmatchcase(o.key, pattern)]
        else:
            found = _exact(client, bucket, key) if key else []
            if not found:
                prefix = key if not key or key.endswith("/") else key + "/"
                found = list(_listing(client, bucket, prefix))
    except NoCredentialsError:
        raise ConfigError(
            f"--input {url}: no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run where an instance or container role applies)"
        ) from None
    except ClientError as exc:
        problem = _client_error(exc, url)
        raise (ProviderUnavailableError(str(problem)) if isinstance(problem, OSError) else problem) from None
    except BotoCoreError as exc:
        raise ProviderUnavailableError(f"listing {url} failed: {exc}") from None
    return sorted(found, key=lambda o: o.key)


def _exact(client: Any, bucket: str, key: str) -> list[ObjectInput]:
    """The object whose key is exactly ``key`` (it lists first among the keys it prefixes), or []."""
    page = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return [
        ObjectInput(bucket, item["Key"], item["ETag"], int(item["Size"]), client)
        for item in page.get("Contents", ())
        if item["Key"] == key
    ]


def _listing(client: Any, bucket: str, prefix: str) -> Iterator[ObjectInput]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            key = item["Key"]
            if key.endswith("/"):
                continue  # a "folder" marker
            yield ObjectInput(bucket, key, item["ETag"], int(item["Size"]), client)


def expand_inputs(specs: Sequence[str | Path], client: Any = None) -> list[Path | ObjectInput]:
    """Every input file ``specs`` name: local paths as given, local globs and S3 URLs expanded.

    A local path that does not exist, or a glob or URL that matches nothing, is a
    :class:`ConfigError` naming it (exit 2): an empty prefix is most often a typo.
    """
    result: list[Path | ObjectInput] = []
    for spec in specs:
        text = str(spec)
        if is_object_url(text):
            client = client or s3_client()
            objects = list_objects(client, text)
            if not objects:
                raise ConfigError(f"--input {text}: no object matches")
            result.extend(objects)
        elif isinstance(spec, str) and _WILDCARD.search(text) and not Path(text).exists():
            matches = sorted(p for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not matches:
                raise ConfigError(f"--input {text!r}: the pattern matches no file")
            result.extend(Path(p) for p in matches)
        else:
            path = Path(text)
            if path.is_dir():
                raise ConfigError(f"--input {text!r} is a directory; name its files or a glob ({text}/*.gz)")
            if not path.is_file():
                raise ConfigError(f"--input {text!r}: no such file")
            result.append(path)
    return result
