"""A tiny smart-HTTP git server: C git's ``git http-backend`` behind
Python's threaded HTTP server, for the transport tests.

    python githttp.py ROOT        serves every repository under ROOT on 127.0.0.1;
                                  prints the chosen port, then serves until killed

Each request runs ``git http-backend`` as a CGI program with
``GIT_PROJECT_ROOT=ROOT`` and ``GIT_HTTP_EXPORT_ALL``; ``REMOTE_USER`` is
set, which is what lets http-backend accept a push.  Chunked request
bodies (libgit2 sends a push that way) are decoded before the CGI sees them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ROOT = ""


class GitHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self._cgi()

    def do_POST(self):
        self._cgi()

    def log_message(self, format, *args):  # quiet: the tests read stdout
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._chunked()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _environ(self, body: bytes) -> dict:
        url = urlsplit(self.path)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL")}
        env.update(GIT_PROJECT_ROOT=ROOT, GIT_HTTP_EXPORT_ALL="1", REMOTE_USER="attgit-tests",
                   REMOTE_ADDR=self.client_address[0], GATEWAY_INTERFACE="CGI/1.1",
                   SERVER_PROTOCOL="HTTP/1.1", REQUEST_METHOD=self.command, PATH_INFO=url.path,
                   QUERY_STRING=url.query, CONTENT_TYPE=self.headers.get("Content-Type", ""),
                   CONTENT_LENGTH=str(len(body)))
        for name in ("Content-Encoding", "Git-Protocol", "Accept"):
            if name in self.headers:
                env["HTTP_" + name.upper().replace("-", "_")] = self.headers[name]
        return env

    def _cgi(self) -> None:
        body = self._body()
        done = subprocess.run(["git", "http-backend"], input=body, env=self._environ(body), capture_output=True)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        if not _ and b"\n\n" in done.stdout:
            head, _, payload = done.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main(root: str) -> None:
    global ROOT
    ROOT = os.path.abspath(root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), GitHandler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
