"""Hub servers on loopback for the Hub tests: olah serves downloads, a small fake takes uploads.

- :func:`start_olah` runs olah (a read-only Hugging Face mirror) as a subprocess in offline mode, serving the plain git
  repositories under ``MIRRORS/datasets/{org}/{name}``.
- :class:`FakeHub` implements the upload endpoints huggingface_hub 2.4 calls (create repo, validate YAML, preupload,
  NDJSON commit, create branch) and writes each commit into a git repository under the same ``MIRRORS`` folder, so a
  push is then downloadable through olah. It also answers scripted errors (401/403/404 with the ``X-Error-Code``
  headers huggingface_hub maps to its exceptions) and records every request it sees.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GIT = [
    "git",
    "-c",
    "user.name=t",
    "-c",
    "user.email=t@t",
    "-c",
    "init.defaultBranch=main",
    "-c",
    "commit.gpgsign=false",
]


def git(repo: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused at once)."""
    return f"http://127.0.0.1:{free_port()}"


def make_git_repo(
    mirrors: Path, repo_id: str, files: dict[str, bytes], message: str = "add files", *, repo_type: str = "dataset"
) -> str:
    """Create (or add a commit to) ``MIRRORS/{repo_type}s/{repo_id}`` holding ``files``; return the commit sha."""
    repo = mirrors / f"{repo_type}s" / repo_id
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        git(repo, "init", "-q", "-b", "main")
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


class Olah:
    """A running olah subprocess."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mirrors = root / "mirrors"
        self.mirrors.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = root / "olah.toml"
        config.write_text(
            "[basic]\n"
            'host = "127.0.0.1"\n'
            f"port = {self.port}\n"
            f'repos-path = "{root / "repos"}"\n'
            f'mirrors-path = ["{self.mirrors}"]\n'
            "metadata-cache-ttl = 0\n"  # a new commit on main must be seen at once
            "[accessibility]\n"
            "offline = true\n"
        )
        self.log = root / "olah.out"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "olah.server", "-c", str(config), "--log-path", str(root / "logs")],
            cwd=root,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> str | None:
        """None when olah answers, else the reason it did not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"olah exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}"
            try:
                urllib.request.urlopen(self.url + "/", timeout=1)
                return None
            except urllib.error.HTTPError:
                return None  # any HTTP answer means it is up
            except OSError:
                time.sleep(0.2)
        return f"olah did not answer on {self.url} within {timeout:.0f} s: {self.log.read_text()[-2000:]}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_olah(root: Path) -> tuple[Olah | None, str | None]:
    """Start olah under ``root``; return ``(olah, None)`` or ``(None, reason)``."""
    try:
        import olah  # noqa: F401
    except ImportError:
        return None, "olah is not installed (pip install -e '.[dev]')"
    server = Olah(root)
    reason = server.wait_ready()
    if reason is not None:
        server.stop()
        return None, reason
    return server, None


class FakeHub:
    """The Hub's upload API, enough for ``HfApi.create_repo`` + ``create_branch`` + ``create_commit``.

    ``errors`` maps a request path (exact match, without query) to ``(status, headers)``: the fake answers that
    instead. A request whose ``Authorization`` is ``Bearer read-only`` gets 403 on every POST, as the Hub answers a
    read token that tries to write.
    """

    def __init__(self, mirrors: Path) -> None:
        self.mirrors = mirrors
        self.requests: list[tuple[str, str]] = []
        self.created: dict[str, dict] = {}
        self.commits: list[dict] = []
        self.errors: dict[str, tuple[int, dict[str, str]]] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_HEAD(self):
                fake._handle(self, "HEAD")

            def do_POST(self):
                fake._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- plumbing ---------------------------------------------------------------------------------------------
    @staticmethod
    def _send(handler, status: int, body: object = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)

    def _handle(self, handler, method: str) -> None:
        path = handler.path.split("?", 1)[0]
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append((method, path))
            if path in self.errors:
                status, headers = self.errors[path]
                return self._send(handler, status, {"error": headers.get("X-Error-Message", "error")}, headers)
            if method == "POST" and handler.headers.get("Authorization") == "Bearer read-only":
                message = "You don't have the rights to create a dataset under this namespace"
                return self._send(handler, 403, {"error": message}, {"X-Error-Message": message})
            try:
                answer = self._route(method, path, body)
            except Exception as exc:  # a bug in the fake: make it visible in the test's failure
                return self._send(handler, 500, {"error": repr(exc)})
        if answer is None:
            return self._send(handler, 404, {"error": "not found"})
        self._send(handler, 200, answer)

    def _route(self, method: str, path: str, body: bytes):
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/api/repos/create":
            return self._create(json.loads(body))
        if method == "POST" and path == "/api/validate-yaml":
            return {"errors": [], "warnings": []}
        if method == "POST" and len(parts) >= 6 and parts[:2] == ["api", "datasets"]:
            repo_id, action, revision = f"{parts[2]}/{parts[3]}", parts[4], "/".join(parts[5:])
            if action == "preupload":
                files = json.loads(body)["files"]
                return {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
            if action == "commit":
                return self._commit(repo_id, revision, body)
            if action == "branch":
                git(self._repo(repo_id), "branch", revision)
                return {}
        return None

    def _repo(self, repo_id: str) -> Path:
        return self.mirrors / "datasets" / repo_id

    def _create(self, payload: dict) -> dict:
        repo_id = f"{payload['organization']}/{payload['name']}"
        self.created[repo_id] = payload
        repo = self._repo(repo_id)
        if not (repo / ".git").exists():  # the Hub starts every repository with a .gitattributes commit
            make_git_repo(self.mirrors, repo_id, {".gitattributes": b"*.safetensors filter=lfs\n"}, "initial commit")
        return {"url": f"{self.url}/datasets/{repo_id}", "name": repo_id, "id": repo_id}

    def _commit(self, repo_id: str, revision: str, body: bytes) -> dict:
        repo = self._repo(repo_id)
        git(repo, "checkout", "-q", revision)
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        header, files = lines[0]["value"], []
        for line in lines[1:]:
            if line["key"] != "file":
                raise ValueError(f"the fake only takes regular files, got {line['key']}")
            value = line["value"]
            target = repo / value["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(value["content"]))
            files.append(value["path"])
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", header["summary"])
        sha = git(repo, "rev-parse", "HEAD")
        git(repo, "checkout", "-q", "main")
        self.commits.append({"repo_id": repo_id, "revision": revision, "summary": header["summary"], "files": files})
        return {"commitUrl": f"{self.url}/datasets/{repo_id}/commit/{sha}", "commitOid": sha, "pullRequestUrl": None}
