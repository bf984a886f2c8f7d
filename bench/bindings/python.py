"""Rampart's Python binding against cedarpy, per decision, on the same requests.

    python bench/bindings/python.py DIR [--rounds 20] [--decisions 2000] [--batch 100]
                                        [--commit SHA] [--json OUT]

DIR is what `rampart-bench emit NAME DIR` writes: `rampart/*.rampart` and `entities.json`
(read by `rampart.Policy.load(DIR)`), `policies.cedar`, and the same requests line for line
in `rampart-requests.jsonl` (Rampart's request JSON) and `cedar-requests.jsonl` (Cedar's
JSON request form). It builds nothing: `scripts/bench-python.sh` emits the folder, builds
and installs the wheel and cedarpy, then runs this file.

Before anything is timed, every request is decided by every timed call; the decisions
(allow/deny) and the deciding rule ids (Rampart's `rules`, Cedar's `@id` annotations of
the policies it names as reasons) must agree and neither engine may report an error.

Each row is timed in ROUNDS rounds of DECISIONS calls, round-robin over the requests (each
round starts where the last stopped), after a warm-up of one round; a row's figure is the
median round's wall time (`time.perf_counter_ns`) and CPU time of the process
(`time.process_time_ns`, so that any thread an engine starts is counted) divided by the
decisions. What one call includes is listed under ROWS. The Python garbage collector stays
on: the objects an engine's call allocates, and the collections they cause, are its cost.
A separate pass times single calls (the timer read twice per call included) for p50 and
p99.
"""

import argparse
import gc
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import cedarpy
import rampart

ROWS = {
    "rampart-dict": "Rampart `policy.decide(dict)`: the dict converted to the engine's "
    "request, decided, the `Decision` object built (rules, obligations, errors)",
    "rampart-str": "Rampart `policy.decide(str)`: the request as JSON text, parsed in the "
    "call, otherwise the same",
    "cedarpy": "cedarpy `is_authorized(dict, PolicySet, Entities)`: policies and entities "
    "pre-parsed handles (parsed once, before timing); in the call, cedarpy's wrapper "
    "`json.dumps` the context dict, Cedar reads the request and decides, the answer comes "
    "back as JSON text that the wrapper `json.loads` into an `AuthzResult`",
    "cedarpy-batch": "cedarpy `is_authorized_batch(list of BATCH dicts, PolicySet, "
    "Entities)`, per decision: the same work, one crossing into Rust per batch",
    "cedarpy-text": "cedarpy `is_authorized(dict, policy text, Entities)`: as `cedarpy`, "
    "but the policy text is parsed in every call (the README's basic form)",
}


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load(folder):
    rampart_requests = read_lines(folder / "rampart-requests.jsonl")
    cedar_requests = read_lines(folder / "cedar-requests.jsonl")
    if len(rampart_requests) != len(cedar_requests) or not rampart_requests:
        sys.exit(
            f"error: {len(rampart_requests)} Rampart and {len(cedar_requests)} Cedar "
            "requests; emit writes the same number of each"
        )
    policy = rampart.Policy.load(folder)
    policy_text = (folder / "policies.cedar").read_text(encoding="utf-8")
    cedar_policies = cedarpy.PolicySet.from_str(policy_text)
    cedar_entities = cedarpy.Entities.from_json_str(
        (folder / "entities.json").read_text(encoding="utf-8")
    )
    return rampart_requests, cedar_requests, policy, policy_text, cedar_policies, cedar_entities


def cedar_rules(result):
    ids = result.diagnostics.id_annotations_by_reason
    return sorted(ids.get(reason, reason) for reason in result.diagnostics.reasons)


def check_agreement(rampart_requests, cedar_requests, policy, policy_text, policies, entities, batch):
    """Decides every request with every timed call; exits on the first disagreement."""
    texts = [json.dumps(r) for r in rampart_requests]
    batched = []
    for start in range(0, len(cedar_requests), batch):
        batched += cedarpy.is_authorized_batch(cedar_requests[start : start + batch], policies, entities)
    allowed, metrics = 0, {"build_request_duration_micros": [], "authz_duration_micros": []}
    for i, (rq, cq) in enumerate(zip(rampart_requests, cedar_requests)):
        ours = policy.decide(rq)
        ours_text = policy.decide(texts[i])
        theirs = cedarpy.is_authorized(cq, policies, entities)
        theirs_text = cedarpy.is_authorized(cq, policy_text, entities)
        answers = {
            "rampart-dict": (ours.allowed, sorted(ours.rules), bool(ours.errors)),
            "rampart-str": (ours_text.allowed, sorted(ours_text.rules), bool(ours_text.errors)),
        }
        for name, result in (("cedarpy", theirs), ("cedarpy-text", theirs_text), ("cedarpy-batch", batched[i])):
            answers[name] = (result.allowed, cedar_rules(result), bool(result.diagnostics.errors))
        if len(set(map(repr, answers.values()))) != 1 or answers["rampart-dict"][2]:
            sys.exit(
                f"error: the engines disagree (or report an error) on request {i}\n"
                f"  rampart: {json.dumps(rq)}\n  cedar:   {json.dumps(cq)}\n"
                + "".join(f"  {name}: {answer}\n" for name, answer in answers.items())
                + f"  cedar errors: {theirs.diagnostics.errors}"
            )
        allowed += ours.allowed
        for key, values in metrics.items():
            values.append(theirs.metrics.get(key, 0))
    return allowed, {key: statistics.median(values) for key, values in metrics.items()}


def time_rounds(call, items, rounds, decisions):
    """Median ns per call over `rounds` rounds of `decisions` calls, wall and CPU."""
    order = [items[k % len(items)] for k in range(decisions * (rounds + 1))]
    walls, cpus = [], []
    for r in range(rounds + 1):
        chunk = order[r * decisions : (r + 1) * decisions]
        wall, cpu = time.perf_counter_ns(), time.process_time_ns()
        for item in chunk:
            call(item)
        cpu = time.process_time_ns() - cpu
        wall = time.perf_counter_ns() - wall
        if r > 0:  # round 0 is the warm-up
            walls.append(wall / decisions)
            cpus.append(cpu / decisions)
    return {
        "wall_ns": statistics.median(walls),
        "cpu_ns": statistics.median(cpus),
        "wall_ns_min": min(walls),
        "wall_ns_max": max(walls),
    }


def time_single(call, items, samples):
    """p50 and p99 of single timed calls (two timer reads per call included)."""
    for item in items[: min(len(items), 200)]:
        call(item)
    times = []
    for k in range(samples):
        item = items[k % len(items)]
        started = time.perf_counter_ns()
        call(item)
        times.append(time.perf_counter_ns() - started)
    times.sort()
    return {"p50_ns": times[len(times) // 2], "p99_ns": times[min(len(times) - 1, len(times) * 99 // 100)]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--decisions", type=int, default=2000, help="calls per round")
    parser.add_argument("--batch", type=int, default=100, help="requests per is_authorized_batch call")
    parser.add_argument("--commit", default="", help="the Rampart commit, for the record")
    parser.add_argument("--json", type=pathlib.Path, help="also write the figures here")
    args = parser.parse_args()
    if args.rounds < 1 or args.decisions < 1 or args.batch < 1:
        parser.error("--rounds, --decisions and --batch take positive numbers")

    rampart_requests, cedar_requests, policy, policy_text, policies, entities = load(args.dir)
    n = len(rampart_requests)
    allowed, cedar_metrics = check_agreement(rampart_requests, cedar_requests, policy, policy_text, policies, entities, args.batch)
    print(f"{n} requests, {allowed} allowed: Rampart and cedarpy agree on every one (decision and rules)")
    print(
        "cedarpy's own metrics of is_authorized (median over the requests, untimed pass): "
        + ", ".join(f"{key} {value:g}" for key, value in cedar_metrics.items())
    )

    texts = [json.dumps(r) for r in rampart_requests]
    # Batches of consecutive requests, wrapping around, that together cover every request.
    count = -(-n // args.batch)
    stream = cedar_requests * (-(-count * args.batch // n))
    batches = [stream[k * args.batch : (k + 1) * args.batch] for k in range(count)]
    loads = [os.getloadavg()[0]]
    results = {}

    def row(name, call, items, decisions, per_call=1, singles=True):
        figures = time_rounds(call, items, args.rounds, decisions)
        for key in ("wall_ns", "cpu_ns", "wall_ns_min", "wall_ns_max"):
            figures[key] /= per_call
        if singles:
            figures.update(time_single(call, items, min(10 * decisions, 20_000)))
        results[name] = figures
        loads.append(os.getloadavg()[0])

    row("rampart-dict", policy.decide, rampart_requests, args.decisions)
    row("rampart-str", policy.decide, texts, args.decisions)
    row("cedarpy", lambda r: cedarpy.is_authorized(r, policies, entities), cedar_requests, args.decisions)
    row(
        "cedarpy-batch",
        lambda b: cedarpy.is_authorized_batch(b, policies, entities),
        batches,
        max(1, args.decisions // args.batch),
        per_call=args.batch,
        singles=False,
    )
    row(
        "cedarpy-text",
        lambda r: cedarpy.is_authorized(r, policy_text, entities),
        cedar_requests,
        max(1, args.decisions // 10),
    )
    gc.collect()

    base = results["rampart-dict"]
    print(
        f"\nper decision, median of {args.rounds} rounds of {args.decisions} calls "
        f"(batch {args.batch}; cedarpy-text {max(1, args.decisions // 10)} calls a round); "
        f"load average {min(loads):.2f}-{max(loads):.2f}"
    )
    print(f"{'row':<15} {'wall':>10} {'CPU':>10} {'p50':>10} {'p99':>10}   {'÷ rampart-dict wall / CPU':>25}")
    for name, f in results.items():
        p50 = f"{f['p50_ns'] / 1000:.2f} µs" if "p50_ns" in f else "-"
        p99 = f"{f['p99_ns'] / 1000:.2f} µs" if "p99_ns" in f else "-"
        print(
            f"{name:<15} {f['wall_ns'] / 1000:>7.2f} µs {f['cpu_ns'] / 1000:>7.2f} µs {p50:>10} {p99:>10} "
            f"{f['wall_ns'] / base['wall_ns']:>18.1f}× / {f['cpu_ns'] / base['cpu_ns']:.1f}×"
        )
    print("\nrows:")
    for name, what in ROWS.items():
        print(f"  {name}: {what.replace('BATCH', str(args.batch))}")

    if args.json:
        report = {
            "workload_dir": str(args.dir),
            "requests": n,
            "allowed": allowed,
            "rounds": args.rounds,
            "decisions_per_round": args.decisions,
            "batch": args.batch,
            "load_average": [min(loads), max(loads)],
            "cedarpy_metrics_median_us": cedar_metrics,
            "python": platform.python_version(),
            "cedarpy": _version("cedarpy"),
            "rampart_policy": getattr(rampart, "__version__", ""),
            "rampart_commit": args.commit,
            "machine": _cpu_model(),
            "rows": results,
            "what_each_row_times": {k: v.replace("BATCH", str(args.batch)) for k, v in ROWS.items()},
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


def _version(package):
    from importlib.metadata import version

    return version(package)


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{os.cpu_count()} CPUs, {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {platform.processor()}"


if __name__ == "__main__":
    main()
