"""API keys never appear in any log (any level, urllib3 included), exception or quarantined file;
files follow the umask."""
from __future__ import annotations

import http.server
import io
import logging
import os
import stat
import threading

import pandas as pd
import pytest

from pipeline_assets import collect
from resources import storage
from resources.sources.base import SourceError
from resources.sources.http import HttpClient

SECRET = "s3cr3t-0dds-k3y-9f8e7d"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        status = 200 if "/ok" in self.path else 500 if "/flaky" in self.path else 403
        body = (b'{"echo": "' + self.path.encode() + b'"}')  # a server that echoes the key back
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def debug_logs():
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ("urllib3", "urllib3.connectionpool", "requests"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield buf
    root.removeHandler(handler)
    root.setLevel(old)


def test_no_secret_in_debug_logs_exceptions_or_quarantine(server, debug_logs, tmp_path):
    client = HttpClient(min_interval=0, backoff=0, max_attempts=2, sleep=lambda s: None)
    body = client.get(f"{server}/ok", {"apiKey": SECRET, "regions": "us"}, endpoint="odds")
    assert SECRET.encode() not in body and b"apiKey=REDACTED" in body  # what a snapshot stores
    errors = []
    for path in ("/flaky", "/forbidden"):
        with pytest.raises(SourceError) as info:
            client.get(f"{server}{path}", {"apiKey": SECRET}, endpoint="odds")
        errors.append(info.value)
    logged = debug_logs.getvalue()
    assert "GET /ok" in logged or "/ok" in logged, "urllib3 debug lines were not captured"
    assert SECRET not in logged
    for exc in errors:
        assert SECRET not in str(exc) and SECRET.encode() not in (exc.raw or b"")
        kept = collect.quarantine(exc, "odds", "2026-01-14", pd.Timestamp("2026-01-14T16:00Z"),
                                  tmp_path)
        for f in kept.parent.iterdir():
            assert SECRET.encode() not in f.read_bytes(), f


def test_written_files_follow_the_umask(tmp_path):
    mask = os.umask(0)
    os.umask(mask)
    storage.atomic_write_bytes(tmp_path / "a" / "f.bin", b"x")
    folder = storage.write_run_folder(tmp_path / "runs", "20260101T000000Z", {"g": b"y"})
    modes = {stat.S_IMODE((tmp_path / "a" / "f.bin").stat().st_mode),
             stat.S_IMODE((folder.path / "g").stat().st_mode)}
    assert modes == {0o666 & ~mask}
