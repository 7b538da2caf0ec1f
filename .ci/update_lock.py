"""Write ``constraints.txt``, the lock, from what a base environment holds: run it on purpose.

    python .ci/update_lock.py            # from .tox/.base-newest (after `tox run -m newest` passed)
    python .ci/update_lock.py --base .tox/.base

The lock pins every third-party distribution that the core, the plugins and their extras install,
so the README's commands, tox and CI install exactly what the suite passed with. torch keeps its
plain pin (``torch==2.13.0``, without the ``+cpu`` label) so pip takes the CPU wheel from disk.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = """\
# The lock: every third-party version the suite passed with, used by every install (the README's
# commands, tox and CI). Update it on purpose: `tox run -m newest` (today's releases), then
# `python .ci/update_lock.py`. torch is pinned to the CPU wheel: any other spec can pull a CUDA build.
"""


def frozen(base: Path) -> list[str]:
    """``name==version`` for each distribution in ``base`` that is not tasuki's own."""
    out = subprocess.run([str(base / "bin" / "python"), "-m", "pip", "list", "--format=freeze", "--exclude-editable"],
                         check=True, capture_output=True, text=True).stdout
    pins = []
    for line in out.splitlines():
        name, _, version = line.partition("==")
        if not version or name.lower().startswith("tasuki") or name.lower() in {"pip", "setuptools", "wheel"}:
            continue
        pins.append(f"{name}=={version.split('+')[0] if name.lower() == 'torch' else version}")
    return sorted(pins, key=str.lower)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=ROOT / ".tox" / ".base-newest")
    base = parser.parse_args().base
    if not (base / ".complete").is_file():
        sys.exit(f"{base} is not a complete base environment: run `tox run -m newest` first")
    pins = frozen(base)
    staged = ROOT / "constraints.txt.new"
    staged.write_text(HEADER + "\n".join(pins) + "\n", encoding="utf-8")
    staged.replace(ROOT / "constraints.txt")
    print(f"constraints.txt: {len(pins)} pins from {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
