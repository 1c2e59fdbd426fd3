"""A small local stand-in for the Hugging Face Hub, for publishing tests.

It speaks the HTTP routes that ``huggingface_hub`` 2.4 (with ``HF_HUB_DISABLE_XET=1``), ``datasets`` and
``evaluate`` call to create a repo, upload a folder and read it back:

- ``POST /api/repos/create`` and ``PUT /api/{type}s/{repo}/settings`` (gating),
- ``POST /api/validate-yaml`` (checks that the README's YAML parses),
- ``POST /api/{type}s/{repo}/preupload/{rev}`` (decides regular vs LFS per file),
- ``POST /{prefix}{repo}.git/info/lfs/objects/batch`` + ``PUT``/``POST`` on the returned upload/verify URLs,
- ``POST /api/{type}s/{repo}/commit/{rev}`` (the NDJSON commit),
- ``GET /api/{type}s/{repo}[/revision/{rev}]``, ``GET /api/{type}s/{repo}/tree/{rev}[/{path}]``,
  ``POST /api/{type}s/{repo}/paths-info/{rev}`` and ``HEAD``/``GET /{prefix}{repo}/resolve/{rev}/{path}``.

Every request is recorded (method, path, whether it carried the expected token) so tests can assert that bad
input never reached the server. Files live in memory, per commit, so tests inspect exactly what arrived.
No dependency beyond the standard library and PyYAML.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

# Files the real Hub stores in LFS by default (its .gitattributes), plus anything binary or large.
LFS_SUFFIXES = (".parquet", ".safetensors", ".bin", ".png", ".arrow", ".pt", ".pth", ".model")
TYPE_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def git_blob_oid(content: bytes) -> str:
    """The git object id of a blob (what the Hub reports as a regular file's ``oid``)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class RecordedRequest:
    method: str
    path: str
    authorized: bool  # carried "Authorization: Bearer <the expected token>"


@dataclass
class FakeRepo:
    repo_type: str
    repo_id: str
    private: bool
    sdk: str | None = None
    gated: str | bool = False
    commits: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)  # (oid, snapshot), oldest first
    lfs_paths: set[str] = field(default_factory=set)

    @property
    def files(self) -> dict[str, bytes]:
        """The files at the head of ``main``."""
        return self.commits[-1][1] if self.commits else {}

    def snapshot(self, revision: str) -> tuple[str, dict[str, bytes]] | None:
        if not self.commits:
            return None
        if revision in ("main", "HEAD"):
            return self.commits[-1]
        return next(((oid, files) for oid, files in self.commits if oid == revision), None)


class FakeHub:
    """Run with ``with FakeHub(token) as hub:``; ``hub.url`` is the endpoint, ``hub.repos`` what arrived."""

    def __init__(self, token: str):
        self.token = token
        self.repos: dict[tuple[str, str], FakeRepo] = {}
        self.requests: list[RecordedRequest] = []
        self.lfs_store: dict[str, bytes] = {}  # sha256 -> content, filled by the LFS PUTs
        self.settings_error: str | None = None  # set: the settings route refuses with 403 and this message
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def repo(self, repo_type: str, repo_id: str) -> FakeRepo:
        return self.repos[(repo_type, repo_id)]


def _make_handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test output clean
            pass

        # -- plumbing -------------------------------------------------------------------------------------
        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, payload=None, *, raw: bytes | None = None, headers: dict | None = None):
            data = raw if raw is not None else json.dumps(payload if payload is not None else {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _error(self, status: int, message: str):
            self._send(status, {"error": message}, headers={"X-Error-Message": message})

        def _authorized(self) -> bool:
            return self.headers.get("Authorization") == f"Bearer {hub.token}"

        def _dispatch(self):
            parts = urlsplit(self.path)
            path, query = unquote(parts.path), parse_qs(parts.query)
            with hub._lock:
                hub.requests.append(RecordedRequest(self.command, path, self._authorized()))
            body = self._body() if self.command in ("POST", "PUT") else b""
            for method, pattern, handler in ROUTES:
                if method != self.command and not (method == "GET" and self.command == "HEAD"):
                    continue
                match = re.fullmatch(pattern, path)
                if match:
                    return handler(self, body, query, **match.groupdict())
            return self._error(404, f"fake hub: no route for {self.command} {path}")

        do_GET = do_HEAD = do_POST = do_PUT = _dispatch

        def _repo_for_read(self, repo_type: str, repo_id: str) -> FakeRepo | None:
            repo = hub.repos.get((repo_type, repo_id))
            if repo is None or (repo.private and not self._authorized()):
                self._send(404, {"error": "Repository not found"}, headers={"X-Error-Code": "RepoNotFound"})
                return None
            return repo

        def _repo_for_write(self, repo_type: str, repo_id: str) -> FakeRepo | None:
            if not self._authorized():
                self._error(401, "Invalid credentials in Authorization header")
                return None
            repo = hub.repos.get((repo_type, repo_id))
            if repo is None:
                self._send(404, {"error": "Repository not found"}, headers={"X-Error-Code": "RepoNotFound"})
            return repo

        # -- write routes ---------------------------------------------------------------------------------
        def create_repo(self, body, query):
            if not self._authorized():
                return self._error(401, "Invalid credentials in Authorization header")
            payload = json.loads(body)
            repo_type = payload.get("type") or "model"
            repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
            url = f"{hub.url}/{TYPE_PREFIX[repo_type]}{repo_id}"
            with hub._lock:
                if (repo_type, repo_id) in hub.repos:
                    return self._send(409, {"error": "You already created this repo", "url": url})
                hub.repos[(repo_type, repo_id)] = FakeRepo(
                    repo_type, repo_id, private=payload.get("visibility") == "private", sdk=payload.get("sdk")
                )
            self._send(200, {"url": url, "name": repo_id})

        def update_settings(self, body, query, repo_type, repo_id):
            repo = self._repo_for_write(repo_type, repo_id)
            if repo is not None and hub.settings_error:
                self._error(403, hub.settings_error)
            elif repo is not None:
                settings = json.loads(body)
                if "gated" in settings:
                    repo.gated = settings["gated"]
                if "private" in settings:
                    repo.private = settings["private"]
                self._send(200, {})

        def validate_yaml(self, body, query):
            content = json.loads(body)["content"]
            match = re.match(r"^---\s*\n(.*?)\n---\s*\n", content, flags=re.DOTALL)
            try:
                metadata = yaml.safe_load(match.group(1)) if match else {}
            except yaml.YAMLError as error:
                return self._send(400, {"errors": [{"message": f"YAML does not parse: {error}"}]})
            if not isinstance(metadata, dict):
                return self._send(400, {"errors": [{"message": "YAML metadata must be a mapping"}]})
            self._send(200, {"errors": [], "warnings": []})

        def preupload(self, body, query, repo_type, repo_id, revision):
            repo = self._repo_for_write(repo_type, repo_id)
            if repo is None:
                return
            files = []
            for entry in json.loads(body)["files"]:
                sample = base64.b64decode(entry["sample"])
                lfs = entry["path"].endswith(LFS_SUFFIXES) or b"\0" in sample or entry["size"] > 10_000_000
                existing = repo.files.get(entry["path"])
                files.append({
                    "path": entry["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": git_blob_oid(existing) if existing is not None else None,
                })
            self._send(200, {"files": files, "commitOid": repo.commits[-1][0] if repo.commits else None})

        def lfs_batch(self, body, query, prefix, repo_id):
            repo_type = {"": "model", "datasets/": "dataset", "spaces/": "space"}[prefix or ""]
            if self._repo_for_write(repo_type, repo_id) is None:
                return
            objects = []
            for obj in json.loads(body)["objects"]:
                oid, size = obj["oid"], obj["size"]
                actions = None
                if oid not in hub.lfs_store:
                    actions = {
                        "upload": {"href": f"{hub.url}/fake-lfs/{oid}"},
                        "verify": {"href": f"{hub.url}/fake-lfs-verify/{oid}"},
                    }
                entry = {"oid": oid, "size": size, "authenticated": True}
                objects.append({**entry, "actions": actions} if actions else entry)
            self._send(200, {"transfer": "basic", "objects": objects, "hash_algo": "sha256"})

        def lfs_put(self, body, query, oid):
            if hashlib.sha256(body).hexdigest() != oid:
                return self._error(400, "content does not match its sha256 oid")
            with hub._lock:
                hub.lfs_store[oid] = body
            self._send(200, {})

        def lfs_verify(self, body, query, oid):
            payload = json.loads(body)
            stored = hub.lfs_store.get(oid)
            if stored is None or len(stored) != payload["size"]:
                return self._error(404, "LFS object not uploaded")
            self._send(200, {})

        def commit(self, body, query, repo_type, repo_id, revision):
            repo = self._repo_for_write(repo_type, repo_id)
            if repo is None:
                return
            if revision != "main":
                return self._error(400, "fake hub: commits only to main")
            lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            if not lines or lines[0]["key"] != "header":
                return self._error(400, "commit payload must start with a header line")
            files = dict(repo.files)
            lfs_paths = set(repo.lfs_paths)
            for line in lines[1:]:
                value = line["value"]
                if line["key"] == "file":
                    files[value["path"]] = base64.b64decode(value["content"])
                    lfs_paths.discard(value["path"])
                elif line["key"] == "lfsFile":
                    if value["oid"] not in hub.lfs_store:
                        return self._error(400, f"LFS object {value['oid']} was never uploaded")
                    files[value["path"]] = hub.lfs_store[value["oid"]]
                    lfs_paths.add(value["path"])
                elif line["key"] == "deletedFile":
                    files.pop(value["path"], None)
                else:
                    return self._error(400, f"fake hub: unsupported commit operation {line['key']}")
            oid = hashlib.sha1(body + str(len(repo.commits)).encode()).hexdigest()
            with hub._lock:
                repo.commits.append((oid, files))
                repo.lfs_paths = lfs_paths
            url = f"{hub.url}/{TYPE_PREFIX[repo_type]}{repo_id}/commit/{oid}"
            self._send(200, {"commitUrl": url, "commitOid": oid, "pullRequestUrl": None})

        # -- read routes ----------------------------------------------------------------------------------
        def _entry(self, repo: FakeRepo, path: str, content: bytes) -> dict:
            entry = {"type": "file", "path": path, "size": len(content), "oid": git_blob_oid(content)}
            if path in repo.lfs_paths:
                entry["lfs"] = {"oid": hashlib.sha256(content).hexdigest(), "size": len(content), "pointerSize": 134}
            return entry

        def _listing(self, repo: FakeRepo, files: dict[str, bytes], prefix: str, recursive: bool) -> list[dict]:
            prefix = prefix.strip("/")
            base = f"{prefix}/" if prefix else ""
            entries, folders = [], set()
            for path in sorted(files):
                if not path.startswith(base):
                    continue
                rest = path[len(base):]
                if "/" in rest:
                    parts = rest.split("/")
                    for depth in range(1, len(parts) if recursive else 2):
                        folders.add(base + "/".join(parts[:depth]))
                    if not recursive:
                        continue
                entries.append(self._entry(repo, path, files[path]))
            directories = [{"type": "directory", "path": p, "oid": git_blob_oid(p.encode())} for p in sorted(folders)]
            return directories + entries

        def repo_info(self, body, query, repo_type, repo_id, revision="main"):
            repo = self._repo_for_read(repo_type, repo_id)
            if repo is None:
                return
            found = repo.snapshot(revision or "main")
            if found is None and repo.commits:
                return self._send(404, {"error": "Invalid rev id"}, headers={"X-Error-Code": "RevisionNotFound"})
            sha, files = found or (None, {})
            info = {
                "id": repo_id, "_id": hashlib.md5(repo_id.encode()).hexdigest()[:24], "sha": sha,
                "private": repo.private,
                "gated": repo.gated, "disabled": False, "downloads": 0, "likes": 0, "tags": [],
                "author": repo_id.split("/")[0], "lastModified": "2025-01-01T00:00:00.000Z",
                "createdAt": "2025-01-01T00:00:00.000Z",
                "siblings": [{"rfilename": path} for path in sorted(files)],
            }
            if repo.sdk:
                info["sdk"] = repo.sdk
            self._send(200, info)

        def tree(self, body, query, repo_type, repo_id, revision, path=""):
            repo = self._repo_for_read(repo_type, repo_id)
            if repo is None:
                return
            found = repo.snapshot(revision)
            if found is None:
                return self._send(404, {"error": "Invalid rev id"}, headers={"X-Error-Code": "RevisionNotFound"})
            recursive = query.get("recursive", ["false"])[0].lower() in ("true", "1")
            self._send(200, self._listing(repo, found[1], path or "", recursive))

        def paths_info(self, body, query, repo_type, repo_id, revision):
            repo = self._repo_for_read(repo_type, repo_id)
            if repo is None:
                return
            found = repo.snapshot(revision)
            if found is None:
                return self._send(404, {"error": "Invalid rev id"}, headers={"X-Error-Code": "RevisionNotFound"})
            files = found[1]
            form = parse_qs(body.decode()) if body and not body.startswith(b"{") else {}
            paths = form.get("paths") or (json.loads(body).get("paths", []) if body.startswith(b"{") else [])
            result = []
            for path in paths:
                path = path.strip("/")
                if path in files:
                    result.append(self._entry(repo, path, files[path]))
                elif any(name.startswith(path + "/") for name in files) or path == "":
                    result.append({"type": "directory", "path": path, "oid": git_blob_oid(path.encode())})
            self._send(200, result)

        def resolve(self, body, query, prefix, repo_id, revision, path):
            repo_type = {"": "model", "datasets/": "dataset", "spaces/": "space"}[prefix or ""]
            repo = self._repo_for_read(repo_type, repo_id)
            if repo is None:
                return
            found = repo.snapshot(revision)
            if found is None:
                return self._send(404, {"error": "Invalid rev id"}, headers={"X-Error-Code": "RevisionNotFound"})
            sha, files = found
            if path not in files:
                return self._send(404, {"error": "Entry not found"}, headers={"X-Error-Code": "EntryNotFound"})
            content = files[path]
            etag = hashlib.sha256(content).hexdigest() if path in repo.lfs_paths else git_blob_oid(content)
            self._send(200, raw=content, headers={"X-Repo-Commit": sha, "ETag": f'"{etag}"'})

    repo = r"(?P<repo_id>[^/]+/[^/]+)"
    kind = r"(?P<repo_type>model|dataset|space)s"
    ROUTES = [
        ("POST", r"/api/repos/create", Handler.create_repo),
        ("PUT", rf"/api/{kind}/{repo}/settings", Handler.update_settings),
        ("POST", r"/api/validate-yaml", Handler.validate_yaml),
        ("POST", rf"/api/{kind}/{repo}/preupload/(?P<revision>[^/]+)", Handler.preupload),
        ("POST", rf"/(?P<prefix>datasets/|spaces/)?{repo}\.git/info/lfs/objects/batch", Handler.lfs_batch),
        ("PUT", r"/fake-lfs/(?P<oid>[0-9a-f]{64})", Handler.lfs_put),
        ("POST", r"/fake-lfs-verify/(?P<oid>[0-9a-f]{64})", Handler.lfs_verify),
        ("POST", rf"/api/{kind}/{repo}/commit/(?P<revision>[^/]+)", Handler.commit),
        ("GET", rf"/api/{kind}/{repo}(?:/revision/(?P<revision>[^/]+))?", Handler.repo_info),
        ("GET", rf"/api/{kind}/{repo}/tree/(?P<revision>[^/]+)(?:/(?P<path>.*))?", Handler.tree),
        ("POST", rf"/api/{kind}/{repo}/paths-info/(?P<revision>[^/]+)", Handler.paths_info),
        ("GET", rf"/(?P<prefix>datasets/|spaces/)?{repo}/resolve/(?P<revision>[^/]+)/(?P<path>.+)", Handler.resolve),
    ]
    return Handler
