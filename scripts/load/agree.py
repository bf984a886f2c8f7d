#!/usr/bin/env python3
"""Checks that `rampart serve` and Cerbos decide alike on the comparison policy, and writes
the request bodies that scripts/sidecar-load.sh times.

    agree.py RAMPART_HTTP_ADDR CERBOS_HTTP_ADDR OUT_DIR

Each case is sent to both servers: to Rampart as a `POST /v1/decide` naming the principal,
action and resource (their attributes are in policy/entities.json, loaded by the sidecar),
to Cerbos as a `POST /api/check/resources` carrying the same attributes (Cerbos has no
entity store). Both must give the expected decision. The first case is the one timed: its
two bodies are written to OUT_DIR/decide.json and OUT_DIR/cerbos.json. Exits 1 when a
server disagrees or cannot be asked. Standard library only.
"""

import json
import sys
import urllib.request
from pathlib import Path

POLICY = Path(__file__).resolve().parent / "policy"

# (principal, action, resource, expected decision); the first one is timed.
CASES = [
    ("bob", "read", "d1", "allow"),      # department-read
    ("bob", "write", "d1", "deny"),      # nothing allows
    ("alice", "write", "d1", "allow"),   # owner
    ("alice", "write", "d2", "deny"),    # archived-read-only beats owner
    ("carol", "delete", "d1", "allow"),  # admin
    ("dave", "read", "d1", "deny"),      # another department
    ("carol", "delete", "d2", "deny"),   # archived-read-only beats admin
    ("dave", "read", "d2", "deny"),      # another department, archived
]


def load_entities():
    """Entity id -> attributes, from the sidecar's own entity file."""
    entities = json.loads((POLICY / "entities.json").read_text())
    return {e["uid"]["id"]: e.get("attrs", {}) for e in entities}


def rampart_body(principal, action, resource):
    return {
        "principal": {"type": "User", "id": principal},
        "action": action,
        "resource": {"type": "Document", "id": resource},
    }


def cerbos_body(entities, principal, action, resource):
    user, document = entities[principal], entities[resource]
    return {
        "requestId": "sidecar-load",
        "principal": {
            "id": principal,
            "roles": user["roles"],
            "attr": {"department": user["department"]},
        },
        "resources": [
            {
                "actions": [action],
                "resource": {
                    "kind": "document",
                    "id": resource,
                    "attr": {
                        "owner": document["owner"]["id"],
                        "department": document["department"],
                        "archived": document["archived"],
                    },
                },
            }
        ],
    }


def post(url, body):
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        return 2
    rampart, cerbos, out = argv[1], argv[2], Path(argv[3])
    entities = load_entities()
    failures = 0
    for index, (principal, action, resource, expected) in enumerate(CASES):
        ours = rampart_body(principal, action, resource)
        theirs = cerbos_body(entities, principal, action, resource)
        try:
            decided = post(f"http://{rampart}/v1/decide", ours)["decision"]
            answer = post(f"http://{cerbos}/api/check/resources", theirs)
            effect = answer["results"][0]["actions"][action]
        except (OSError, KeyError, IndexError, ValueError) as error:
            print(f"agree: {principal} {action} {resource}: no answer: {error}", file=sys.stderr)
            return 1
        cerbos_decision = "allow" if effect == "EFFECT_ALLOW" else "deny"
        ok = decided == expected == cerbos_decision
        failures += not ok
        print(
            f"  {principal:<6} {action:<7} {resource}  rampart={decided:<6} "
            f"cerbos={cerbos_decision:<6} expected={expected}{'' if ok else '  MISMATCH'}"
        )
        if index == 0:
            out.mkdir(parents=True, exist_ok=True)
            (out / "decide.json").write_text(json.dumps(ours))
            (out / "cerbos.json").write_text(json.dumps(theirs))
    if failures:
        print(f"agree: {failures} of {len(CASES)} cases differ", file=sys.stderr)
        return 1
    print(f"agree: Rampart and Cerbos decide all {len(CASES)} cases alike")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
