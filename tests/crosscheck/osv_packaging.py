"""Verdicts of OSV ranges under PyPI ordering, computed with `packaging`.

Reads the cases file named by argv[1] (a JSON list of {"events": [[kind, version]...],
"versions": [...]}) and prints, per case, which versions `packaging` accepts, the sign
of comparing each accepted version with each event bound, and the OSV verdict: events
sorted by version ("introduced: 0" first), then walked.
"""

import functools
import json
import sys

from packaging.version import InvalidVersion, Version


def parse(text):
    try:
        return Version(text)
    except InvalidVersion:
        return None


def sign(a, b):
    return (a > b) - (a < b)


def sort_key(event):
    kind, text = event
    return (0, None) if (kind == "introduced" and text == "0") else (1, Version(text))


def compare_events(a, b):
    ka, kb = sort_key(a), sort_key(b)
    if ka[0] != kb[0]:
        return ka[0] - kb[0]
    return 0 if ka[0] == 0 else sign(ka[1], kb[1])


def affected(version, events):
    limits = [Version(t) for k, t in events if k == "limit" and t != "*"]
    unlimited = any(k == "limit" and t == "*" for k, t in events)
    walk = [e for e in events if e[0] != "limit"]
    walk.sort(key=functools.cmp_to_key(compare_events))
    hit = False
    for kind, text in walk:
        if kind == "introduced":
            hit = hit or text == "0" or version >= Version(text)
        elif kind == "fixed":
            hit = hit and version < Version(text)
        elif kind == "last_affected":
            hit = hit and not version > Version(text)
    below = not (limits or unlimited) or unlimited or any(version < l for l in limits)
    return hit and below


def judge(case):
    bounds = [t for k, t in case["events"] if t not in ("0", "*")]
    out = {"accepted": [], "signs": [], "affected": []}
    for text in case["versions"]:
        version = parse(text)
        if version is None:
            continue
        out["accepted"].append(text)
        out["signs"].append([sign(version, Version(b)) for b in bounds])
        out["affected"].append(affected(version, case["events"]))
    return out


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    json.dump([judge(c) for c in cases], sys.stdout)


main()
