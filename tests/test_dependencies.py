"""The install is reproducible: requirements.lock pins, with hashes, what pyproject asks for.

`make install` installs the lock and the project without resolving anything more, so a
requirement added to pyproject.toml but not to the lock would be missing on a fresh
machine, and one bounded differently would be installed outside its bounds. `make lock`
refreshes the lock; this test says when that was forgotten.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def _pins() -> dict[str, tuple[Version, int]]:
    """Every pinned package of the lock: its version and how many hashes it carries."""
    pins: dict[str, tuple[Version, int]] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (Version(match.group(2)), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def _direct_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        listed.extend(extra)
    return [r for r in map(Requirement, listed) if canonicalize_name(r.name) != "veilig-wonen"]


def test_every_direct_requirement_is_pinned_within_its_bounds():
    pins = _pins()
    requirements = _direct_requirements()
    assert len(requirements) > 30
    missing = [str(r) for r in requirements if canonicalize_name(r.name) not in pins]
    outside = [
        f"{r} (locked {pins[canonicalize_name(r.name)][0]})"
        for r in requirements
        if canonicalize_name(r.name) in pins
        and not r.specifier.contains(pins[canonicalize_name(r.name)][0], prereleases=True)
    ]
    assert missing == [], f"not in requirements.lock (run `make lock`): {missing}"
    assert outside == [], f"locked outside pyproject's bounds (run `make lock`): {outside}"


def test_every_direct_requirement_has_an_upper_bound():
    unbounded = [
        str(r)
        for r in _direct_requirements()
        if not any(spec.operator in ("<", "<=", "==", "~=") for spec in r.specifier)
    ]
    assert unbounded == []


def test_every_pin_carries_its_hashes():
    pins = _pins()
    assert len(pins) > 60
    assert [name for name, (_, hashes) in pins.items() if hashes == 0] == []
