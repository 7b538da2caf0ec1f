"""tox's install command: every tox env shares one base environment holding the heavy wheels.

Installing torch, transformers, datasets, sentence-transformers... into each of nine envs was
most of tox's time and disk (18 GB). The base environment (``.tox/.base``) gets them once, with
``constraints.txt`` (the CPU torch pin); each env sees it through a ``.pth`` file and installs
only the tasuki distributions it tests on top (pip counts the base's packages as installed).
Each env still holds exactly the tasuki distributions it names, so a plugin is tested alone;
third-party packages are shared.

Two bases: ``.tox/.base`` installs the lock (``constraints.txt``: every third-party version the suite
passed with); with ``TASUKI_TOX_NEWEST=1`` (tox's ``newest`` label), ``.tox/.base-newest`` installs the
newest releases the requirements admit, with only the lock's torch pin (the CPU wheel), rebuilt once a
day, so that drift shows up there before a user meets it.

Usage (tox.ini): ``install_command = python {toxinidir}/.ci/tox_install.py {opts} {packages}``.
"""

from __future__ import annotations

import datetime
import fcntl
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
NEWEST = os.environ.get("TASUKI_TOX_NEWEST") == "1"
BASE = Path(os.environ.get("TASUKI_TOX_BASE", ROOT / ".tox" / (".base-newest" if NEWEST else ".base")))
LOCK = ROOT / "constraints.txt"


def constraints() -> Path:
    """The lock; for the newest-releases base, only the lock's torch pin (any other torch spec pulls CUDA)."""
    if not NEWEST:
        return LOCK
    pins = [line for line in LOCK.read_text(encoding="utf-8").splitlines() if line.startswith("torch==")]
    path = BASE.parent / ".newest-constraints.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(f".{os.getpid()}")  # parallel envs write it too: replace, never half-write
    staged.write_text("\n".join(pins) + "\n", encoding="utf-8")
    os.replace(staged, path)
    return path


def third_party_requirements() -> list[str]:
    """Every requirement of the core and the plugins (extras included) that is not a tasuki distribution."""
    found: dict[str, None] = {}
    for path in [ROOT / "pyproject.toml", *sorted(ROOT.glob("plugins/*/pyproject.toml"))]:
        project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
        requirements = [*project.get("dependencies", [])]
        for extra in project.get("optional-dependencies", {}).values():
            requirements += extra
        for requirement in requirements:
            if not requirement.lower().startswith("tasuki"):
                found[requirement] = None
    return list(found)


def ensure_base() -> Path:
    """The base environment's site-packages, created once (a lock keeps parallel envs from racing)."""
    python = BASE / "bin" / "python"
    BASE.parent.mkdir(parents=True, exist_ok=True)
    with open(BASE.parent / ".base.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = BASE / ".complete"
        wanted = "\n".join(sorted(third_party_requirements())) + "\n" + constraints().read_text(encoding="utf-8")
        if NEWEST:  # today's releases: rebuilt on the first run of each day
            wanted += f"built on {datetime.date.today()}\n"
        if not done.is_file() or done.read_text(encoding="utf-8") != wanted:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(BASE)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "-c", str(constraints()),
                            *third_party_requirements()], check=True)
            cuda = subprocess.run([str(python), "-c", "import torch; print(torch.version.cuda)"], check=True,
                                  capture_output=True, text=True).stdout.strip()
            if cuda != "None":
                sys.exit(f"the base environment got a CUDA build of torch (cuda {cuda}); check constraints.txt")
            done.write_text(wanted, encoding="utf-8")
    return Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())


def main(args: list[str]) -> int:
    base = ensure_base()
    own = Path(sysconfig.get_paths()["purelib"])
    (own / "_tasuki_tox_base.pth").write_text(f"{base}\n", encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "pip", "install", "-c", str(constraints()), *args]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
