"""The client as a package: `pip install ./clients/python` installs an importable, typed
`pyward_client` (the PEP 561 marker included), not just a directory on sys.path."""
import os
import subprocess
import sys
import tempfile

from conftest import HERE

PROJECT = os.path.abspath(os.path.join(HERE, ".."))


def test_pip_installs_an_importable_typed_package():
    with tempfile.TemporaryDirectory(prefix="pyward-pip-") as target, \
            tempfile.TemporaryDirectory(prefix="pyward-pip-work-") as work:
        # No build isolation: setuptools comes from this interpreter, so no index is needed.
        # A copy of the project, so that the build leaves nothing behind in the source tree.
        subprocess.run(["cp", "-r", PROJECT, os.path.join(work, "python")], check=True)
        out = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              "--no-build-isolation", "--no-deps", "--no-index", "--target", target,
                              os.path.join(work, "python")], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        package = os.path.join(target, "pyward_client")
        assert sorted(f for f in os.listdir(package) if not f.startswith("__pycache__")) == \
            ["__init__.py", "dispatcher.py", "matrix.py", "py.typed"]
        assert any(d.startswith("pyward_client-0.1.0") and d.endswith(".dist-info") for d in os.listdir(target))
        # Imported from the install only (-I: no user site, no current directory), elsewhere.
        check = ("import sys; sys.path.insert(0, {!r}); import pyward_client, pyward_client.dispatcher; "
                 "assert pyward_client.__file__.startswith({!r}), pyward_client.__file__; "
                 "assert 'mautrix' not in sys.modules, 'the client itself needs only the standard library'; "
                 "print(sorted(pyward_client.__all__))").format(target, target)
        out = subprocess.run([sys.executable, "-I", "-c", check], capture_output=True, text=True,
                             cwd=work, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == str(sorted(["Client", "PywardError", "DEFAULT_SOCKET", "HostHandler",
                                                 "Dispatcher", "Outcome"]))


def test_the_matrix_extra_pins_what_the_matrix_tests_run_with():
    import tomllib

    with open(os.path.join(PROJECT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    extra = project["optional-dependencies"]["matrix"]
    with open(os.path.join(PROJECT, "..", "..", "scripts", "matrix-requirements.txt")) as f:
        pinned = {line.strip().lower() for line in f if line.strip() and not line.startswith("#")}
    assert extra and all("==" in requirement for requirement in extra), extra
    assert [r for r in extra if r.lower() not in pinned] == [], "pin the extra as scripts/matrix-requirements.txt does"
    assert project["scripts"]["pyward-matrix"] == "pyward_client.matrix:main"
