"""bandit finds nothing of medium severity or above in the server and agent code, and every
finding silenced in the code says which test it silences and why."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.support.environment import ROOT

SCANNED = ("core", "tasks", "web", "processes", "edge_agent")
# `# nosec B608: why` - the test's id and a reason; a bare `# nosec` silences everything.
EXPLAINED_NOSEC = re.compile(r"#\s*nosec\s+B\d{3}(,\s*B\d{3})*:\s*\S.{5,}")


def test_no_medium_or_high_finding() -> None:
    result = subprocess.run([sys.executable, "-m", "bandit", "-r", *SCANNED, "-ll", "-q", "-f", "json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout)
    findings = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}"
                for r in report["results"]]
    assert not findings, "bandit findings (fix them, or `# nosec BXXX: reason` on the line):\n" + \
        "\n".join(findings)
    assert not report["errors"], report["errors"]


def test_every_nosec_names_its_test_and_reason() -> None:
    unexplained = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if "nosec" in line and not EXPLAINED_NOSEC.search(line):
                    unexplained.append(f"{Path(path).relative_to(ROOT)}:{number}: {line.strip()}")
    assert not unexplained, "nosec without a test id and a reason:\n" + "\n".join(unexplained)
