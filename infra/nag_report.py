"""Print the cdk-nag outcome of a synth in one paragraph: `python -m infra.nag_report cdk.out`.

cdk-nag 3 runs as a CDK policy-validation plugin; the synth writes its findings (open and
acknowledged, with the reason given) to <outdir>/validation-report.json. The exit code is 1 when
that report holds an unacknowledged error (the synth itself fails first in that case).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

NAG_PLUGIN = "AwsSolutions"
REPORT_FILE = "validation-report.json"


def summarize(report: dict) -> tuple[str, int]:
    """(the paragraph, the number of unacknowledged errors) for a parsed validation report."""
    plugins = {plugin["pluginName"]: plugin for plugin in report.get("pluginReports", [])}
    nag = plugins.get(NAG_PLUGIN)
    if nag is None:
        return f"cdk-nag: no {NAG_PLUGIN} results in the report (was the plugin added in app.py?).", 1

    open_findings = Counter(violation.get("severity", "error") for violation in nag.get("violations", []))
    errors, warnings = open_findings["error"], open_findings["warning"]
    acknowledged: dict[str, list[str]] = {}
    for violation in nag.get("suppressedViolations", []):
        acknowledged.setdefault(violation["ruleName"], []).append(violation.get("reason", "").strip())

    lines = [
        f"cdk-nag {NAG_PLUGIN}: {errors} unacknowledged error(s), {warnings} warning(s), "
        f"{len(acknowledged)} rule(s) acknowledged with a reason:"
    ]
    for rule in sorted(acknowledged):
        reasons = sorted(set(acknowledged[rule]))
        lines.append(f"  - {rule}: " + " | ".join(reasons))
    for violation in nag.get("violations", []):
        paths = ", ".join(c["constructPath"] for c in violation.get("violatingConstructs", []))
        lines.append(f"  ! {violation.get('severity', 'error')} {violation['ruleName']} at {paths}")
    return "\n".join(lines), errors


def main(argv: list[str]) -> int:
    outdir = Path(argv[1] if len(argv) > 1 else "cdk.out")
    report_path = outdir / REPORT_FILE
    if not report_path.exists():
        print(f"cdk-nag: {report_path} not found; run the synth first (make synth).", file=sys.stderr)
        return 1
    text, errors = summarize(json.loads(report_path.read_text(encoding="utf-8")))
    print(text)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
