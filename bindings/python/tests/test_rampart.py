"""The Python binding against the repository's own corpus and examples."""

import json
import pathlib
import threading

import pytest

import rampart

ROOT = pathlib.Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "conformance"
PAYMENTS = ROOT / "examples" / "payments"


def corpus_dirs():
    return sorted(d for d in CORPUS.iterdir() if (d / "cases.json").is_file())


@pytest.mark.parametrize("case_dir", corpus_dirs(), ids=lambda d: d.name)
def test_the_conformance_corpus_decides_as_in_rust(case_dir):
    policy = rampart.Policy.load(case_dir)
    cases = json.loads((case_dir / "cases.json").read_text())
    for case in cases:
        try:
            # The corpus states its time where it matters (as the Rust runner, which fills none).
            got = policy.decide(case["request"], fill_time=False).to_dict()
        except rampart.RequestError as error:
            # The Rust corpus runner denies an unreadable request, listing the error.
            got = {"decision": "deny", "rules": [], "errors": [{"message": str(error)}]}
        assert got["decision"] == case["decision"], (case["name"], got)
        if case.get("rules") is not None:
            assert sorted(got["rules"]) == sorted(case["rules"]), (case["name"], got)
        if case.get("errors") is not None:
            assert bool(got["errors"]) == case["errors"], (case["name"], got)
        if case.get("obligations") is not None:
            assert got["obligations"] == case["obligations"], (case["name"], got)


def alice_reads(account="a1", scopes=("payments:read",)):
    return {
        "principal": {"type": "User", "id": "alice"},
        "action": "payments:read",
        "resource": {"type": "Account", "id": account},
        "context": {"auth": {"scopes": list(scopes)}, "tls": {"version": "1.3", "mtls": True}},
    }


def test_decide_explain_and_plan_on_the_payments_example():
    policy = rampart.Policy.load(PAYMENTS)
    decision = policy.decide(alice_reads())
    assert decision.allowed and bool(decision)
    assert decision.decision == "allow"
    assert "pay-read" in decision.rules
    assert any(o["kind"] == "mask" for o in decision.obligations)
    assert policy.decide(json.dumps(alice_reads("a2"))).allowed is False
    explained, explanation = policy.explain(alice_reads())
    assert explained.allowed and any(r["id"] == "pay-read" for r in explanation["rules"])

    request = alice_reads()
    request["resource"] = {"type": "Account"}
    plan = policy.plan(request)
    assert plan.decision == "conditional"
    assert plan.text.startswith('resource.owner == User::"alice"')
    assert plan.condition["op"] == "and"
    assert plan.to_dict()["resource_type"] == "Account"


def test_entities_passed_per_call_and_checked_against_their_policy():
    policy = rampart.Policy.load(PAYMENTS)
    data = json.loads((PAYMENTS / "entities.json").read_text())
    for item in data:
        if item["uid"] == {"type": "Account", "id": "a1"}:
            item["attrs"]["owner"] = {"__entity": {"type": "User", "id": "bob"}}
    entities = policy.load_entities(data)
    assert len(entities) == len(data)
    assert policy.decide(alice_reads(), entities).allowed is False
    other = rampart.Policy.load(PAYMENTS)
    with pytest.raises(rampart.EntityError):
        other.decide(alice_reads(), entities)


def test_bad_input_raises_typed_errors_never_crashes():
    policy = rampart.Policy.load(PAYMENTS)
    bad_requests = [
        "{not json",
        '{"a": 1, "a": 2}',
        {"action": "payments:read"},
        {"principal": 5, "action": [], "resource": {}},
        {"principal": {"type": "User", "id": "alice"}, "action": "payments:read",
         "resource": {"type": "Account", "id": "a1"}, "context": {"tls": {"version": 1.5}}},
        {"x" * 1_000_000: 1},
        {1: "non-string key"},
        {"action": float("nan")},
        {"action": 2**80},
        {"action": object()},
    ]
    for request in bad_requests:
        with pytest.raises(rampart.RequestError):
            policy.decide(request)
    huge = alice_reads()
    huge["context"]["note"] = "x" * (2 << 20)
    for request in (huge, json.dumps(huge), json.dumps(huge).encode()):
        with pytest.raises(rampart.RequestError, match="too large"):
            policy.decide(request)
    many = alice_reads()
    many["context"]["items"] = [0] * 300_000
    with pytest.raises(rampart.RequestError, match="too large"):
        policy.plan(many)
    deep = current = {}
    for _ in range(10_000):
        current["a"] = {}
        current = current["a"]
    with pytest.raises(rampart.RequestError):
        policy.decide(deep)
    with pytest.raises(rampart.EntityError):
        policy.load_entities('{"not": "a list"}')
    with pytest.raises(rampart.EntityError, match="invalid JSON"):
        rampart.Policy.load(PAYMENTS, entities="[{")
    with pytest.raises(rampart.PolicyError) as error:
        rampart.Policy.from_bundle(b"\xff\xfe")
    assert isinstance(error.value, rampart.RampartError)
    with pytest.raises(rampart.PolicyError):
        rampart.Policy.from_bundle('{"format": "rampart-bundle", "version": 999}')


def test_policies_that_do_not_compile_carry_their_diagnostics(tmp_path):
    (tmp_path / "p.rampart").write_text('package p\nallow "read" on Nope\n')
    with pytest.raises(rampart.PolicyError) as error:
        rampart.Policy.load(tmp_path)
    diagnostics = error.value.diagnostics
    assert diagnostics and diagnostics[0].severity == "error"
    assert diagnostics[0].code.startswith("E")
    assert diagnostics[0].line == 2
    assert [d.code for d in rampart.check(tmp_path)] == [d.code for d in diagnostics]


def test_a_closed_policy_refuses_every_call():
    with rampart.Policy.load(PAYMENTS) as policy:
        assert policy.decide(alice_reads()).allowed
    for call in (policy.decide, policy.explain, policy.plan):
        with pytest.raises(rampart.RampartError, match="closed"):
            call(alice_reads())


def test_threads_decide_together_and_agree():
    policy = rampart.Policy.load(PAYMENTS)
    requests = [alice_reads(a) for a in ("a1", "a2", "a3", "a4")] * 250
    expected = [policy.decide(r).allowed for r in requests]
    results = {}

    def work(index):
        results[index] = [policy.decide(r).allowed for r in requests]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[i] == expected for i in range(4))


def test_bundles_built_by_the_cli_load(tmp_path):
    import shutil
    import subprocess

    rampart_bin = shutil.which("rampart") or str(ROOT / "target" / "debug" / "rampart")
    if not pathlib.Path(rampart_bin).exists():
        pytest.skip("no rampart binary")
    out = tmp_path / "bundle.json"
    subprocess.run([rampart_bin, "build", str(PAYMENTS), "-o", str(out)], check=True)
    policy = rampart.Policy.from_bundle(out.read_bytes(), (PAYMENTS / "entities.json").read_text())
    assert policy.decide(alice_reads()).allowed
