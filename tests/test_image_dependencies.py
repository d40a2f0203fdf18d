"""The training image's dependencies, checked without Docker: the constraints agree with the base image,
and pip resolves the core install path with them for the image's platform (a real resolution against
PyPI, `pip install --dry-run`; skipped only when no package index can be reached at all)."""

import json
import os
import re
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "resources" / "docker"
INDEX = "https://pypi.org/simple/"


def _base_image() -> tuple[str, str]:
    """(torch version, CUDA version) from the Dockerfile's ``FROM pytorch/pytorch:<torch>-cuda<cuda>-...``."""
    match = re.search(r"^FROM pytorch/pytorch:(\d+\.\d+\.\d+)-cuda(\d+\.\d+)-", (DOCKER / "Dockerfile").read_text(), re.M)
    assert match, "the Dockerfile's base image is no longer pytorch/pytorch:<torch>-cuda<X.Y>-...; update this test"
    return match.group(1), match.group(2)


def _pins() -> dict[str, str]:
    pins = {}
    for line in (DOCKER / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[name.lower()] = version
    return pins


def test_constraints_pin_the_base_image_torch_and_the_ml_stack():
    torch, _ = _base_image()
    pins = _pins()
    assert pins["torch"] == torch
    assert {"transformers", "sentence-transformers", "peft", "accelerate"} <= set(pins)
    assert int(pins["transformers"].split(".")[0]) < 5  # 5.x needs torch >= 2.6 (turns its torch support off below)


def test_pods_only_land_on_drivers_that_run_the_image_cuda():
    from stickgen_core.jobs.runpod_backend import DEFAULTS

    _, cuda = _base_image()
    versions = [tuple(map(int, v.split("."))) for v in DEFAULTS["allowed_cuda_versions"]]
    assert min(versions) == tuple(map(int, cuda.split(".")))


def test_the_image_installs_the_core_with_the_constraints_and_no_gui():
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"pip install -c constraints\.txt \.(\s|$)", text)  # no [gui] extra
    assert not re.search(r"^COPY .*stickgen_studio", text, re.M)  # the GUI's code stays out too


def _stub_torch_wheel(folder: Path, version: str) -> None:
    """The base image's torch as pip sees it: same name, version and tags, a higher build number so pip
    takes it over PyPI's 900 MB wheel, and its small pure-Python requirements (CUDA libraries are in the image)."""
    name = f"torch-{version}-1-cp311-cp311-manylinux1_x86_64.whl"
    requires = ["filelock", "typing-extensions>=4.8.0", "networkx", "jinja2", "fsspec", "sympy==1.13.1"]
    dist = f"torch-{version}.dist-info"
    with zipfile.ZipFile(folder / name, "w") as z:
        z.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n"
                   + "".join(f"Requires-Dist: {r}\n" for r in requires))
        z.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n"
                   "Tag: cp311-cp311-manylinux1_x86_64\nBuild: 1\n")
        z.writestr(f"{dist}/RECORD", "")


def test_pip_resolves_the_image_dependencies_for_its_platform(tmp_path):
    try:
        urllib.request.urlopen(INDEX + "pip/", timeout=15).close()
    except (urllib.error.URLError, OSError) as exc:
        pytest.skip(f"no package index reachable ({INDEX}: {exc}); this check needs PyPI")
    torch, _ = _base_image()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (tmp_path / "requirements.txt").write_text("\n".join(project["dependencies"]) + "\n")
    wheels = tmp_path / "base-image"
    wheels.mkdir()
    _stub_torch_wheel(wheels, torch)
    platforms = [a for p in ("manylinux1_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64",
                             "manylinux_2_28_x86_64", "linux_x86_64") for a in ("--platform", p)]
    # this machine's pip configuration (mirrors, its own constraints) must not colour the answer
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                           "--index-url", INDEX, "--find-links", str(wheels), "--only-binary=:all:",
                           "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", *platforms,
                           "-r", str(tmp_path / "requirements.txt"), "-c", str(DOCKER / "constraints.txt"),
                           "--report", str(report)], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, f"the image's dependencies do not resolve:\n{proc.stderr[-3000:]}"
    chosen = {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
              for i in json.loads(report.read_text())["install"]}
    for name, version in _pins().items():
        assert chosen.get(name) == version, (name, chosen.get(name))
    assert chosen["torch"] == torch and not {"pyside6-essentials", "pyqtgraph"} & set(chosen)
