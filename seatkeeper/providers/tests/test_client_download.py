"""A file answer streamed to disk: a transfer encoding is undone, a zip archive is kept as is,
and a download retried after a dropped connection starts the file again."""

from __future__ import annotations

import gzip
import io
import zlib

import httpx

from seatkeeper.providers.microsoft.client import copy_body
from seatkeeper.providers.tests.fakes import FakeTime
from seatkeeper.providers.tests.test_client import make_client, scripted

CSV = b"\xef\xbb\xbfProductId,SkuId\r\nCFQ7TTC0LH18,0001\r\n" * 2000


def streamed(content: bytes, encoding: str = "") -> httpx.Response:
    headers = {"Content-Encoding": encoding} if encoding else {}
    chunks = [content[i : i + 1000] for i in range(0, len(content), 1000)]
    return httpx.Response(200, headers=headers, stream=httpx.ByteStream(b"".join(chunks)))


def test_a_gzip_or_deflate_answer_is_written_decoded():
    for encoding, body in (("gzip", gzip.compress(CSV)), ("deflate", zlib.compress(CSV))):
        into = io.BytesIO()
        copy_body(streamed(body, encoding), into)
        assert into.getvalue() == CSV, encoding


def test_a_zip_archive_sent_with_a_deflate_header_is_the_file_itself():
    archive = b"PK\x03\x04" + b"\x00" * 64
    into = io.BytesIO()
    copy_body(streamed(archive, "deflate"), into)
    assert into.getvalue() == archive


def test_a_plain_answer_is_written_as_it_came():
    into = io.BytesIO()
    copy_body(streamed(CSV), into)
    assert into.getvalue() == CSV


class CutStream(httpx.SyncByteStream):
    """Half the body, then the connection drops."""

    def __iter__(self):
        yield CSV[:5000]
        raise httpx.ReadError("connection reset")


def test_a_download_cut_short_is_retried_into_a_file_started_again():
    transport, seen = scripted(
        lambda request: httpx.Response(200, stream=CutStream()),
        lambda request: httpx.Response(200, stream=httpx.ByteStream(CSV)),
    )
    client, _tokens = make_client(transport, time=FakeTime())
    into = io.BytesIO()
    client.send("GET", "/v1.0/sales/pricesheets", into=into)
    assert len(seen) == 2
    assert seen[0].headers["MS-RequestId"] == seen[1].headers["MS-RequestId"]
    assert into.getvalue() == CSV  # not the first half followed by the whole
