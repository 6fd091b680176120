"""Bad input is refused early and clearly."""
from __future__ import annotations

import socket

import pytest

from zhenxi_common.testing import signed

from conftest import ServiceProcess, sample


@pytest.fixture(scope="module")
def report_proc(report_env, tmp_path_factory):
    """A real report process, to send it raw oversized requests over a socket."""
    env = dict(report_env, REPORT_UPLOAD_DIR=str(tmp_path_factory.mktemp("big-uploads")))
    p = ServiceProcess("report", env).start()
    yield p
    p.stop()


def _raw(port: int, head: bytes, body_chunks, read_timeout: float = 30.0) -> bytes:
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        s.sendall(head)
        try:
            for chunk in body_chunks:
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass        # the server stopped reading: refused early
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def _head(port: int, path: str, extra: str) -> bytes:
    from zhenxi_common.identity import Identity, sign_headers
    import os

    h = sign_headers(os.environ["INTERNAL_SIGNING_KEY"], Identity("big-user", "patient"), "POST", path)
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
             "Content-Type: multipart/form-data; boundary=zxb", *(f"{k}: {v}" for k, v in h.items()), extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_twenty_50mb_files_are_refused_before_anything_is_stored(report_proc, tmp_path):
    upload_dir = report_proc.env["REPORT_UPLOAD_DIR"]
    total = 20 * 50 * 1024 * 1024
    # Declared size: refused on the header, after at most one chunk was sent.
    reply = _raw(report_proc.port, _head(report_proc.port, "/v1/reports", f"Content-Length: {total}"),
                 [b"--zxb\r\n" + b"x" * 65536])
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b'"payload_too_large"' in reply

    # Streamed without a length (chunked): refused once the limit is crossed, long before 1 GB.
    def chunks():
        part = b"--zxb\r\nContent-Disposition: form-data; name=\"lab\"; filename=\"a.jpg\"\r\n\r\n" + b"\xff" * (1 << 20)
        for _ in range(1000):
            yield b"%x\r\n%s\r\n" % (len(part), part)

    reply = _raw(report_proc.port, _head(report_proc.port, "/v1/reports", "Transfer-Encoding: chunked"), chunks())
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    import os

    stored = [f for _, _, files in os.walk(upload_dir) for f in files]
    assert stored == []


def test_one_file_over_the_per_file_limit_is_413(client):
    big = b"\xff\xd8\xff" + b"\0" * (21 * 1024 * 1024)
    r = client.post("/v1/reports", files=[("lab", ("big.jpg", big, "image/jpeg"))], auth=signed("alice"))
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"


def test_too_many_files_and_bad_fields(client):
    png = sample("cxr_nih_00000075_000.png")
    r = client.post("/v1/reports", files=[("xray", (f"{i}.png", png, "image/png")) for i in range(13)],
                    auth=signed("alice"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_files"
    r = client.post("/v1/reports", data={"symptoms": "头痛", "age": "200"}, auth=signed("alice"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = client.post("/v1/reports", files=[("lab", ("e.jpg", b"", "image/jpeg"))], auth=signed("alice"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "empty_file"
    assert client.get("/v1/reports/not-a-uuid", auth=signed("alice")).status_code == 404
