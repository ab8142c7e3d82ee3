"""The Todo app's web UI: a static page on port 3000, with /api/* passed to the backend.

  BACKEND_URL   where the backend's Service answers, e.g. http://backend:8000 (cluster DNS)
GET /api/health (and /health) is the probe: it answers without calling the backend.
"""

import http.server
import os
import signal
import sys
import urllib.error
import urllib.request

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "www")
BACKEND = os.environ.get("BACKEND_URL", "http://backend:8000").rstrip("/")


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=ROOT, **kwargs)

    def _send(self, status, body, content_type="text/plain; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # The API server's service proxy streams request bodies in chunks.
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _proxy(self):
        body = self._read_body() if self.command == "POST" else None
        request = urllib.request.Request(BACKEND + self.path, data=body, method=self.command)
        if body is not None:
            # urllib would label the body as a form; the API speaks JSON.
            request.add_header("Content-Type", self.headers.get("Content-Type") or "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                self._send(response.status, response.read(), response.headers.get("Content-Type", "application/json"))
        except urllib.error.HTTPError as err:
            self._send(err.code, err.read(), err.headers.get("Content-Type", "application/json"))
        except (urllib.error.URLError, OSError) as err:
            self._send(502, f"backend {BACKEND} unreachable: {err}\n".encode())

    def do_GET(self):
        if self.path in ("/api/health", "/health"):
            self._send(200, b"ok\n")
        elif self.path.startswith("/api/"):
            self._proxy()
        else:
            super().do_GET()

    def do_POST(self):
        if self.path.startswith("/api/"):
            self._proxy()
        else:
            self._send(405, b"method not allowed\n")


if __name__ == "__main__":
    # As PID 1 the process ignores TERM unless it handles it; without this every rollout waits
    # out the pod's whole termination grace period.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = int(os.environ.get("PORT", "3000"))
    http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
