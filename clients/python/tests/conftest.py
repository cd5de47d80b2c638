"""Start a real `pyward serve` for each test (the binary from PYWARD_BIN, or the workspace's
debug build), on a socket and state directory of its own."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..")))
GOOD = os.path.join(ROOT, "tests", "corpus", "good")


def pyward_bin():
    path = os.environ.get("PYWARD_BIN", os.path.join(ROOT, "target", "debug", "pyward"))
    if not os.path.exists(path):
        pytest.fail("no pyward binary at {} (build it, or set PYWARD_BIN)".format(path))
    return path


class Daemon:
    """`extra` is appended to the policy; `owners` and `sudos` are its chat identities."""

    def __init__(self, extra="", owners=("@owner",), sudos=("@sudo",)):
        self.dir = tempfile.mkdtemp(prefix="pyward-pyclient-")
        self.socket = os.path.join(self.dir, "pyward.sock")
        self.config = os.path.join(self.dir, "policy.toml")
        with open(self.config, "w") as f:
            f.write('[server]\nsocket = "{}"\nstate_dir = "{}"\n\n[[clients]]\nuid = {}\nrole = "admin"\n\n'
                    '[acl]\nowners = {}\nsudos = {}\n\n{}'.format(
                        self.socket, os.path.join(self.dir, "state"), os.getuid(), json.dumps(list(owners)),
                        json.dumps(list(sudos)), extra))
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen([pyward_bin(), "serve", "--config", self.config],
                                        stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not os.path.exists(self.socket):
            if self.process.poll() is not None or time.time() > deadline:
                raise RuntimeError("pyward serve did not start")
            time.sleep(0.02)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def daemon():
    d = Daemon()
    yield d
    d.cleanup()


def source(name):
    with open(os.path.join(GOOD, name)) as f:
        return f.read()
