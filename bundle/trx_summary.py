#!/usr/bin/env python3
"""Counts of xunit TRX reports: one summariser for ./build.sh test and device-check.sh.

    trx_summary.py [--brief] FILE.trx [FILE.trx ...]

Default: per report, its counts, the skip reasons (grouped) and every failure's first line, then a closing line
'N passed, N failed, N skipped' over all reports (the line CI reads). A missing or unreadable report counts as one
failure. --brief: one line, the totals, the first failure and the commonest skip reason (for a summary table).
"""
import collections
import os
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
FAILED = ("Failed", "Error", "Timeout", "Aborted")


def read(path):
    """(passed, failed, skipped, skip reasons Counter, failures list) of one report; a missing one is one failure."""
    name = os.path.basename(path)
    try:
        root = ET.parse(path).getroot()
        c = root.find("t:ResultSummary/t:Counters", NS).attrib
    except Exception as e:  # missing, truncated by a timeout, not TRX
        return 0, 1, 0, collections.Counter(), [f"{name}: no test report ({type(e).__name__}: {e})"]
    passed = int(c.get("passed", 0))
    failed = sum(int(c.get(k, 0)) for k in ("failed", "error", "timeout", "aborted"))
    skipped = int(c.get("notExecuted", 0)) + int(c.get("notRunnable", 0))
    reasons, failures = collections.Counter(), []
    for r in root.iterfind(".//t:UnitTestResult", NS):
        outcome = r.get("outcome")
        text = r.findtext("t:Output/t:ErrorInfo/t:Message", "", NS) or r.findtext("t:Output/t:StdOut", "", NS) or ""
        first = (text.strip().splitlines() or [""])[0]
        if outcome == "NotExecuted":
            reasons[first[:200]] += 1
        elif outcome in FAILED:
            failures.append(f"{r.get('testName')}: {first[:240]}")
    return passed, failed, skipped, reasons, failures


def main(argv):
    brief = "--brief" in argv
    files = [a for a in argv if a != "--brief"]
    if not files:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    tp = tf = ts = 0
    all_reasons, all_failures, lines = collections.Counter(), [], []
    for path in files:
        p, f, s, reasons, failures = read(path)
        tp, tf, ts = tp + p, tf + f, ts + s
        all_reasons.update(reasons)
        all_failures += failures
        lines.append(f"{os.path.splitext(os.path.basename(path))[0]}: {p} passed, {f} failed, {s} skipped")
        lines += [f"    skipped x{n}: {why}" for why, n in reasons.most_common()]
        lines += [f"    FAILED {x}" for x in failures]
    total = f"{tp} passed, {tf} failed, {ts} skipped"
    if brief:
        extra = []
        if all_failures:
            extra.append(f"first failure: {all_failures[0][:200]}")
        if all_reasons:
            why, n = all_reasons.most_common(1)[0]
            extra.append(f"skipped x{n}: {why[:160]}")
        print("; ".join([total] + extra))
    else:
        print("\n".join(lines + [total]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
