"""Audits the image's locked dependencies (requirements.lock) for known vulnerabilities.

Runs pip-audit on the lock (hashed pins, so no resolution: ``--disable-pip``) and decides:

* a known vulnerability in a locked version fails (exit 1), naming the package, the version,
  the advisory and the versions that fix it: raise the floor in pyproject.toml, ``make lock``;
* vulnerability data that cannot be had (PyPI unreachable after three tries, or a package it
  answers nothing for) is reported loudly as NOT AUDITED and does not fail, so a network hiccup
  never fails ``make test``; ``AUDIT_STRICT=1`` turns that into a failure too (for a release).

pip-audit asks PyPI's JSON API per release (``/pypi/<name>/<version>/json``), whose
``vulnerabilities`` come from the Python Packaging Advisory Database (OSV).

    python tools/audit.py requirements.lock              # what `make audit` runs
    python tools/audit.py --report pip-audit.json        # decide on a saved pip-audit JSON report
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TRIES = 3


def run_pip_audit(lock: Path) -> dict[str, Any] | str:
    """pip-audit's JSON report, or the reason it could not produce one after TRIES tries."""
    pip_audit = Path(sys.executable).parent / "pip-audit"
    command = [str(pip_audit), "--requirement", str(lock), "--disable-pip", "--format", "json",
               "--progress-spinner", "off", "--vulnerability-service", "pypi"]
    reason = ""
    for attempt in range(TRIES):
        if attempt:
            time.sleep(5 * attempt)
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        try:
            report: dict[str, Any] = json.loads(done.stdout)
            return report
        except ValueError:
            lines = (done.stderr or done.stdout).strip().splitlines()
            reason = lines[-1] if lines else f"pip-audit exited {done.returncode}"
    return reason


def decide(report: dict[str, Any] | str, strict: bool) -> int:
    if isinstance(report, str):
        print(f"audit: NOT AUDITED: pip-audit could not get vulnerability data after {TRIES} "
              f"tries ({report}). This is the network or PyPI, not a vulnerability.")
        return 1 if strict else 0
    deps = report.get("dependencies") or []
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = len(deps) - len(skipped)
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "none yet"
            aliases = ", ".join(vuln.get("aliases") or [])
            print(f"audit: VULNERABLE: {dep['name']} {dep['version']}: {vuln['id']}"
                  f"{f' ({aliases})' if aliases else ''}; fixed in: {fixes}")
    if skipped:
        names = ", ".join(f"{d['name']} {d.get('version', '')}".strip() for d in skipped)
        print(f"audit: NOT AUDITED: {len(skipped)} of {len(deps)} locked packages "
              f"({names}): {skipped[0]['skip_reason']}")
    if vulnerable:
        print("audit: raise the floor in pyproject.toml past the fixed version, then `make lock`")
        return 1
    if skipped:
        print(f"audit: no known vulnerability in the {audited} audited locked packages; the "
              f"{len(skipped)} others are unchecked ({'failing' if strict else 'passing'}: "
              f"AUDIT_STRICT={'1' if strict else 'unset'})")
        return 1 if strict else 0
    print(f"audit: no known vulnerability in the {audited} locked packages")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock", nargs="?", type=Path, default=Path("requirements.lock"))
    parser.add_argument("--report", type=Path, help="decide on this pip-audit JSON report")
    args = parser.parse_args(argv)
    strict = os.environ.get("AUDIT_STRICT", "") not in ("", "0")
    report = json.loads(args.report.read_text()) if args.report else run_pip_audit(args.lock)
    return decide(report, strict)


if __name__ == "__main__":
    sys.exit(main())
