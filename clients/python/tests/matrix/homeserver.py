"""A throwaway Synapse for the Matrix tests, and the plain-HTTP Matrix client its test users
speak with (deliberately not mautrix, which the bot under test uses).

Synapse runs from the interpreter running the tests (the virtualenv of scripts/matrix-venv), on
127.0.0.1 and a free port, with SQLite in a temporary directory, no federation listener, no
outgoing federation, no key servers, no stats, and rate limits raised for a test's pace. Users
are registered through the shared-secret admin API.
"""
import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

SERVER_NAME = "localhost"

# A test's pace: far above anything these tests do, so a limit never decides a result.
_GENEROUS = {"per_second": 1000, "burst_count": 10000}


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MatrixHTTPError(Exception):
    def __init__(self, status, body):
        super().__init__("HTTP {}: {}".format(status, body))
        self.status = status
        self.body = body


def http(method, url, body=None, *, token=None, headers=None, raw=False, timeout=30):
    """One request; JSON in and out unless `raw` (bytes in and out)."""
    data = None
    request_headers = dict(headers or {})
    if body is not None:
        data = body if raw else json.dumps(body).encode()
        request_headers.setdefault("Content-Type", "application/json")
    if token:
        request_headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(url, data=data, method=method, headers=request_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            payload = answer.read()
    except urllib.error.HTTPError as error:
        raise MatrixHTTPError(error.code, error.read().decode("utf-8", "replace")) from None
    return payload if raw else json.loads(payload or b"{}")


class Synapse:
    def __init__(self, directory):
        self.dir = directory
        self.port = free_port()
        self.url = "http://127.0.0.1:{}".format(self.port)
        self.secret = secrets.token_hex(32)
        self.config = os.path.join(directory, "homeserver.yaml")
        self.log = os.path.join(directory, "homeserver.log")
        self.process = None
        self.start_seconds = None
        subprocess.run([sys.executable, "-m", "synapse.app.homeserver", "--server-name", SERVER_NAME,
                        "--config-path", self.config, "--data-directory", directory, "--generate-config",
                        "--report-stats=no"], check=True, cwd=directory, capture_output=True, timeout=120)
        with open(self.config) as f:
            config = yaml.safe_load(f)
        config.update({
            "listeners": [{"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                           "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
            "registration_shared_secret": self.secret,
            "enable_registration": False,
            "report_stats": False,
            "enable_metrics": False,
            # No federation: nothing listens for it, nothing is sent, no key server is asked.
            "federation_domain_whitelist": [],
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "url_preview_enabled": False,
            "presence": {"enabled": False},
            "media_store_path": os.path.join(directory, "media_store"),
            "max_upload_size": "10M",
            "log_config": os.path.join(directory, "log.yaml"),
            "rc_message": _GENEROUS,
            "rc_registration": _GENEROUS,
            "rc_login": {"address": _GENEROUS, "account": _GENEROUS, "failed_attempts": _GENEROUS},
            "rc_joins": {"local": _GENEROUS, "remote": _GENEROUS},
            "rc_joins_per_room": _GENEROUS,
            "rc_invites": {"per_room": _GENEROUS, "per_user": _GENEROUS, "per_issuer": _GENEROUS},
            "rc_admin_redaction": _GENEROUS,
            "rc_media_create": _GENEROUS,
            "rc_room_creation": _GENEROUS,
            "rc_key_requests": _GENEROUS,
            "rc_profile": _GENEROUS,
            "rc_reports": _GENEROUS,
        })
        with open(self.config, "w") as f:
            yaml.safe_dump(config, f)
        with open(os.path.join(directory, "log.yaml"), "w") as f:
            yaml.safe_dump({
                "version": 1,
                "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
                "handlers": {"file": {"class": "logging.FileHandler", "formatter": "plain", "filename": self.log}},
                "root": {"level": "WARNING", "handlers": ["file"]},
                "disable_existing_loggers": False,
            }, f)

    def start(self, timeout=60):
        """Start it and wait for its first answer; `start_seconds` is how long that took."""
        started = time.monotonic()
        with open(os.path.join(self.dir, "stderr.log"), "ab") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "synapse.app.homeserver", "-c", self.config],
                                            cwd=self.dir, stdout=err, stderr=err)
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("synapse exited with {} (logs in {})".format(self.process.returncode, self.dir))
            try:
                http("GET", self.url + "/_matrix/client/versions", timeout=2)
                break
            except (OSError, MatrixHTTPError):
                if time.monotonic() - started > timeout:
                    raise RuntimeError("synapse did not answer within {} s (logs in {})".format(timeout, self.dir))
                time.sleep(0.02)
        self.start_seconds = time.monotonic() - started

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def register(self, localpart, password=None):
        """A user, through the shared-secret registration API; returns a `User`."""
        password = password or secrets.token_hex(16)
        endpoint = self.url + "/_synapse/admin/v1/register"
        nonce = http("GET", endpoint)["nonce"]
        mac = hmac.new(self.secret.encode(), b"\x00".join(
            [nonce.encode(), localpart.encode(), password.encode(), b"notadmin"]), hashlib.sha1).hexdigest()
        answer = http("POST", endpoint, {"nonce": nonce, "username": localpart, "password": password,
                                         "admin": False, "mac": mac})
        return User(self, answer["user_id"], answer["access_token"])


class User:
    """A test user: sends with plain HTTP; `watch()` starts a thread that syncs and keeps every
    room event it sees, with the time it saw it."""

    def __init__(self, server, user_id, token):
        self.server = server
        self.user_id = user_id
        self.token = token
        self._txn = 0
        self.events = []  # (seen at, monotonic; room id; event)
        self._changed = threading.Condition()
        self._watching = False
        self._thread = None

    def _api(self, method, path, body=None, **kwargs):
        return http(method, self.server.url + path, body, token=self.token, **kwargs)

    def create_room(self, invite=()):
        return self._api("POST", "/_matrix/client/v3/createRoom",
                         {"preset": "private_chat", "invite": list(invite), "name": "pyward test"})["room_id"]

    def join(self, room_id):
        self._api("POST", "/_matrix/client/v3/join/" + urllib.parse.quote(room_id))

    def leave(self, room_id):
        self._api("POST", "/_matrix/client/v3/rooms/{}/leave".format(urllib.parse.quote(room_id)), {})

    def invite(self, room_id, user_id):
        self._api("POST", "/_matrix/client/v3/rooms/{}/invite".format(urllib.parse.quote(room_id)),
                  {"user_id": user_id})

    def send(self, room_id, content, event_type="m.room.message"):
        """Send an event; returns its ID."""
        self._txn += 1
        path = "/_matrix/client/v3/rooms/{}/send/{}/t{}-{}".format(
            urllib.parse.quote(room_id), event_type, time.time_ns(), self._txn)
        return self._api("PUT", path, content)["event_id"]

    def say(self, room_id, text, reply_to=None):
        content = {"msgtype": "m.text", "body": text}
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return self.send(room_id, content)

    def edit(self, room_id, event_id, text):
        return self.send(room_id, {"msgtype": "m.text", "body": "* " + text,
                                   "m.new_content": {"msgtype": "m.text", "body": text},
                                   "m.relates_to": {"rel_type": "m.replace", "event_id": event_id}})

    def react(self, room_id, event_id, key):
        return self.send(room_id, {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}},
                         "m.reaction")

    def upload(self, data, name, mime):
        answer = self._api("POST", "/_matrix/media/v3/upload?filename=" + urllib.parse.quote(name), data,
                           raw=True, headers={"Content-Type": mime})
        return json.loads(answer)["content_uri"]

    def download(self, mxc):
        server, media = mxc[len("mxc://"):].split("/", 1)
        return self._api("GET", "/_matrix/client/v1/media/download/{}/{}".format(server, media), raw=True)

    def send_file(self, room_id, data, name, mime, caption=None):
        content = {"msgtype": "m.file", "body": caption or name, "filename": name,
                   "url": self.upload(data, name, mime), "info": {"mimetype": mime, "size": len(data)}}
        return self.send(room_id, content)

    # -- watching ----------------------------------------------------------------------------

    def watch(self):
        """Sync in a thread from now on (what was said before is not kept)."""
        since = self._api("GET", "/_matrix/client/v3/sync?timeout=0")["next_batch"]
        self._watching = True
        self._thread = threading.Thread(target=self._sync_loop, args=(since,), daemon=True)
        self._thread.start()

    def stop_watching(self):
        self._watching = False

    def _sync_loop(self, since):
        while self._watching:
            try:
                answer = self._api("GET", "/_matrix/client/v3/sync?timeout=1000&since=" + urllib.parse.quote(since),
                                   timeout=10)
            except (OSError, MatrixHTTPError):
                time.sleep(0.2)
                continue
            seen = time.monotonic()
            since = answer["next_batch"]
            fresh = []
            for room_id, room in answer.get("rooms", {}).get("join", {}).items():
                for event in room.get("timeline", {}).get("events", []):
                    fresh.append((seen, room_id, event))
            if fresh:
                with self._changed:
                    self.events.extend(fresh)
                    self._changed.notify_all()

    def wait_for(self, predicate, timeout=20, what="an event"):
        """The first event (seen at, room, event) that `predicate(room, event)` accepts, waiting
        for it if need be."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for seen, room_id, event in self.events:
                    if predicate(room_id, event):
                        return seen, room_id, event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("{} did not see {} within {} s; it saw:\n{}".format(
                        self.user_id, what, timeout, "\n".join(
                            json.dumps({"sender": e.get("sender"), "type": e.get("type"), "content": e.get("content")})
                            for _, _, e in self.events[-30:])))
                self._changed.wait(left)

    def seen(self, predicate):
        with self._changed:
            return [event for _, room_id, event in self.events if predicate(room_id, event)]
