#!/usr/bin/env python3
"""Reads what scripts/sidecar-load.sh left in its work folder (h2load and wrk outputs,
h2load's per-request log, the reload driver's events, run.env) and prints the figures next
to issue 4's and issue 13's targets (of the phases that ran); writes them as JSON too.

    report.py WORK_DIR JSON_OUT

Standard library only. Exits 1 when an output it needs is missing or unreadable.
"""

import json
import os
import re
import sys
from pathlib import Path


def read_env(work):
    env = {}
    for line in (work / "run.env").read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value
    return env


def h2load(path):
    """Throughput, request counts and mean latency from an h2load summary."""
    text = path.read_text()
    finished = re.search(r"^finished in ([\d.]+)s, ([\d.]+) req/s", text, re.M)
    counts = re.search(
        r"^requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored, (\d+) timeout",
        text,
        re.M,
    )
    mean = re.search(r"^time for request:\s+\S+\s+\S+\s+(\S+)", text, re.M)
    if not finished or not counts:
        raise ValueError(f"{path.name}: not an h2load summary")
    return {
        "seconds": float(finished.group(1)),
        "requests_per_s": float(finished.group(2)),
        "requests": int(counts.group(1)),
        "succeeded": int(counts.group(3)),
        "failed": int(counts.group(4)) + int(counts.group(5)) + int(counts.group(6)),
        "mean_ms": duration_ms(mean.group(1)) if mean else None,
    }


def duration_ms(text):
    """`123.45us`, `1.20ms`, `2.00s` → milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"not a duration: {text}")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def percentile(sorted_values, fraction):
    """The nearest-rank percentile of sorted values."""
    if not sorted_values:
        return None
    rank = max(1, int(round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_log(path):
    """Percentiles (ms) from h2load's --log-file: start µs, status, latency µs."""
    latencies = []
    statuses = {}
    for line in path.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        statuses[fields[1]] = statuses.get(fields[1], 0) + 1
        latencies.append(int(fields[2]) / 1000.0)
    latencies.sort()
    return {
        "samples": len(latencies),
        "statuses": statuses,
        "p50_ms": percentile(latencies, 0.50),
        "p90_ms": percentile(latencies, 0.90),
        "p99_ms": percentile(latencies, 0.99),
        "p999_ms": percentile(latencies, 0.999),
        "max_ms": latencies[-1] if latencies else None,
    }


def wrk(path):
    """Throughput and latency percentiles from `wrk --latency`."""
    text = path.read_text()
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    if not rps:
        raise ValueError(f"{path.name}: not a wrk summary")
    out = {"requests_per_s": float(rps.group(1))}
    for pct in ("50", "75", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        out[f"p{pct}_ms"] = duration_ms(match.group(1)) if match else None
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    out["non_2xx"] = int(bad.group(1)) if bad else 0
    out["socket_errors"] = errors.group(1).strip() if errors else ""
    return out


def best(values, highest=True):
    """The best figure of the rounds: interference from other work on the machine only ever
    lowers a throughput and raises a latency, so the best round is the one least disturbed."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return max(values) if highest else min(values)


def fastest(values):
    return best(values, highest=False)


def rounds(work, prefix, parse):
    return [parse(p) for p in sorted(work.glob(f"{prefix}-[0-9]*.txt"))]


def machine():
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "kernel": os.uname().release}


def fmt(value, digits=0):
    return "—" if value is None else f"{value:,.{digits}f}"


def latencies_ms(samples):
    """Nearest-rank percentiles (ms) of latencies given in µs."""
    values = sorted(latency / 1000.0 for latency in samples)
    return {
        "samples": len(values),
        "p50_ms": percentile(values, 0.50),
        "p99_ms": percentile(values, 0.99),
        "p999_ms": percentile(values, 0.999),
        "max_ms": values[-1] if values else None,
    }


def reload_events(path):
    """reload_driver.py's events: number, SIGHUP sent and `reloaded` line seen (µs since
    the epoch), revisions, and the duration the sidecar reported (ms or None)."""
    events = []
    for line in path.read_text().splitlines():
        n, sent, seen, previous, revision, reported = line.split("\t")
        events.append(
            {
                "n": int(n),
                "sent_us": int(sent),
                "seen_us": int(seen),
                "previous": previous,
                "revision": revision,
                "observed_ms": (int(seen) - int(sent)) / 1000.0,
                "reported_ms": None if reported == "-" else float(reported),
            }
        )
    return events


# The reload phase's windows. A request belongs to a swap when its time in flight (start to
# start + latency, from h2load's --log-file) overlaps [SIGHUP sent, `reloaded` line seen +
# SWAP_AFTER_US]: the margin after covers the old policy's drop and the queue the reload
# may have left. Requests that started in the first SKIP_US of the run (connections opening)
# count nowhere; all others are steady.
SWAP_AFTER_US = 250_000
SKIP_US = 500_000


def reload_phase(work, env):
    events = reload_events(work / "reload-events.tsv")
    idle = reload_events(work / "reload-idle.tsv")
    requests = []
    statuses = {}
    for line in (work / "reload-paced.log").read_text().splitlines():
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        statuses[fields[1]] = statuses.get(fields[1], 0) + 1
        requests.append((int(fields[0]), int(fields[2])))
    if not requests or not events:
        raise ValueError("reload phase: no requests or no reloads recorded")
    first = min(start for start, _ in requests)
    windows = [(e["sent_us"], e["seen_us"] + SWAP_AFTER_US) for e in events]
    steady, swap = [], []
    per_window = [[] for _ in windows]
    for start, latency in requests:
        if start < first + SKIP_US:
            continue
        hit = False
        for index, (begin, end) in enumerate(windows):
            if start < end and start + latency > begin:
                per_window[index].append(latency)
                hit = True
        (swap if hit else steady).append(latency)
    steady_stats = latencies_ms(steady)
    swap_stats = latencies_ms(swap)
    for event, latencies in zip(events, per_window):
        stats = latencies_ms(latencies)
        event["window_ms"] = (event["seen_us"] + SWAP_AFTER_US - event["sent_us"]) / 1000.0
        event["requests"] = stats["samples"]
        event["p99_ms"] = stats["p99_ms"]
        event["max_ms"] = stats["max_ms"]
    ratio = (
        swap_stats["p99_ms"] / steady_stats["p99_ms"]
        if swap_stats["p99_ms"] and steady_stats["p99_ms"]
        else None
    )
    observed = sorted(e["observed_ms"] for e in events)
    return {
        "set": "scale-10k (rampart-bench emit: 10,000 rules, 10,000 entities)",
        "request": json.loads((work / "reload-request.json").read_text()),
        "answer": env.get("reload_answer"),
        "full_speed": h2load(work / "reload-max.txt"),
        "paced": {**h2load(work / "reload-paced.txt"), "target_per_s": int(env["reload_half_rate"])},
        "statuses": statuses,
        "windows": {
            "rule": "a request is in a swap when its time in flight overlaps [SIGHUP sent, "
            f"`reloaded` line seen + {SWAP_AFTER_US // 1000} ms]; steady: every other request "
            f"but those of the first {SKIP_US // 1000} ms",
            "after_ms": SWAP_AFTER_US / 1000.0,
            "skip_ms": SKIP_US / 1000.0,
        },
        "steady": steady_stats,
        "swap": swap_stats,
        "reload_p99_ratio": None if ratio is None else round(ratio, 3),
        "reloads": events,
        "reloads_counted": int(env.get("reloads_after", "0")) - int(env.get("reloads_before", "0")),
        "reload_observed_ms": {
            "min": observed[0],
            "median": observed[len(observed) // 2],
            "max": observed[-1],
        },
        "idle_reload": idle,
        "grpc_decisions": int(env.get("reload_grpc_decisions", "0")),
    }


def main(argv):
    if len(argv) != 3:
        print("usage: report.py WORK_DIR JSON_OUT", file=sys.stderr)
        return 2
    work, out = Path(argv[1]), Path(argv[2])
    env = read_env(work)
    targets = []
    failures = 0
    report = {
        "machine": machine(),
        "commit": env.get("commit"),
        "quick": env.get("quick") == "1",
        "pinned": env.get("pinned") == "1",
        "priority": env.get("priority"),
        "only": env.get("only", "all"),
        "duration_s": int(env["duration_s"]),
        "rounds": int(env["rounds"]),
        "load_average": {
            k[len("load_"):]: env[k] for k in env if k.startswith("load_")
        },
    }

    if (work / "half-sidecar.txt").exists():
        empty = rounds(work, "empty", h2load)
        sidecar = rounds(work, "sidecar", h2load)
        half = h2load(work / "half-sidecar.txt")
        half_latency = latency_log(work / "half-sidecar.log")
        half_empty = h2load(work / "half-empty.txt")
        half_empty_latency = latency_log(work / "half-empty.log")
        empty_rps = best([r["requests_per_s"] for r in empty])
        sidecar_rps = best([r["requests_per_s"] for r in sidecar])
        ratio = sidecar_rps / empty_rps
        failures += sum(r["failed"] for r in empty + sidecar)
        failures += half["failed"] + half_empty["failed"]
        targets += [
            {
                "what": "ext_authz Check throughput, sidecar with decision log / empty ext_authz server",
                "wanted": ">= 0.80",
                "measured": round(ratio, 3),
                "detail": f"{fmt(sidecar_rps)} / {fmt(empty_rps)} checks/s",
                "met": ratio >= 0.80,
            },
            {
                "what": "p99 latency at 50% of the sidecar's throughput",
                "wanted": "<= 2 ms",
                "measured": round(half_latency["p99_ms"], 3),
                "detail": f"at {fmt(half['requests_per_s'])} checks/s: p50 "
                f"{fmt(half_latency['p50_ms'], 3)} ms, p99.9 {fmt(half_latency['p999_ms'], 3)} ms; "
                f"empty server at the same rate: p50 {fmt(half_empty_latency['p50_ms'], 3)} ms, "
                f"p99 {fmt(half_empty_latency['p99_ms'], 3)} ms",
                "met": half_latency["p99_ms"] <= 2.0,
            },
        ]
        report["ext_authz"] = {
            "h2load": {"clients": int(env["h2load_clients"]), "streams": int(env["h2load_streams"])},
            "empty": empty,
            "sidecar": sidecar,
            "half_rate": {
                "target_per_s": int(env["half_rate"]),
                "sidecar": {**half, "latency": half_latency},
                "empty": {**half_empty, "latency": half_empty_latency},
            },
            "sidecar_allows": int(env["sidecar_allows"]),
            "sidecar_denies": int(env["sidecar_denies"]),
            "decision_log": {
                "records": int(env["log_records"]),
                "bytes": int(env["log_bytes"]),
                "dropped": int(env["log_dropped"]),
            },
        }

    if (work / "decide-1.txt").exists():
        cerbos = rounds(work, "cerbos", h2load)
        decide = rounds(work, "decide", h2load)
        cerbos_rps = best([r["requests_per_s"] for r in cerbos])
        decide_rps = best([r["requests_per_s"] for r in decide])
        versus_cerbos = decide_rps / cerbos_rps
        failures += sum(r["failed"] for r in cerbos + decide)
        targets.append(
            {
                "what": "POST /v1/decide throughput / Cerbos POST /api/check/resources",
                "wanted": ">= 3",
                "measured": round(versus_cerbos, 2),
                "detail": f"{fmt(decide_rps)} / {fmt(cerbos_rps)} requests/s",
                "met": versus_cerbos >= 3.0,
            }
        )
        report["decide_vs_cerbos"] = {
            "http_clients": int(env["http_clients"]),
            "rampart": decide,
            "cerbos": cerbos,
        }

    if (work / "envoy-plain-c1-1.txt").exists():
        plain_c1 = rounds(work, "envoy-plain-c1", wrk)
        authz_c1 = rounds(work, "envoy-authz-c1", wrk)
        plain_c16 = rounds(work, "envoy-plain-c16", wrk)
        authz_c16 = rounds(work, "envoy-authz-c16", wrk)
        plain_p50 = fastest([r["p50_ms"] for r in plain_c1])
        authz_p50 = fastest([r["p50_ms"] for r in authz_c1])
        added_p50 = authz_p50 - plain_p50
        failures += sum(r["non_2xx"] for r in plain_c1 + authz_c1 + plain_c16 + authz_c16)
        targets.append(
            {
                "what": "latency added by the sidecar behind Envoy, p50 (wrk, 1 connection)",
                "wanted": "<= 0.5 ms",
                "measured": round(added_p50, 3),
                "detail": f"p50 {fmt(authz_p50, 3)} ms with ext_authz, {fmt(plain_p50, 3)} ms without",
                "met": added_p50 <= 0.5,
            }
        )
        report["envoy"] = {
            "plain_c1": plain_c1,
            "authz_c1": authz_c1,
            "plain_c16": plain_c16,
            "authz_c16": authz_c16,
            "ext_authz_denied": int(env.get("envoy_upstream_denied", "0")),
            "ext_authz_errors": int(env.get("envoy_authz_errors", "0")),
        }

    if (work / "reload-paced.log").exists():
        reload = reload_phase(work, env)
        failures += reload["full_speed"]["failed"] + reload["paced"]["failed"]
        ratio = reload["reload_p99_ratio"]
        durations = reload["reload_observed_ms"]
        targets.append(
            {
                "what": "p99 while the 10k-rule set is reloaded under load / steady p99",
                "wanted": "<= 2",
                "measured": ratio,
                "detail": f"{len(reload['reloads'])} reloads at {fmt(reload['paced']['requests_per_s'])} "
                f"Decides/s: p99 {fmt(reload['swap']['p99_ms'], 3)} ms in swaps "
                f"({reload['swap']['samples']:,} requests), {fmt(reload['steady']['p99_ms'], 3)} ms "
                f"steady ({reload['steady']['samples']:,}); reload {fmt(durations['median'])} ms "
                f"(median; {fmt(durations['min'])}-{fmt(durations['max'])})",
                "met": ratio is not None and ratio <= 2.0,
            }
        )
        report["reload"] = reload

    report["failed_requests"] = failures
    report["targets"] = targets
    out.write_text(json.dumps(report, indent=2) + "\n")

    print()
    print(
        f"rampart serve under load ({'quick' if report['quick'] else 'full'}: "
        f"{report['duration_s']} s x {report['rounds']} per phase, best round; "
        f"{'servers on CPU 0, clients on CPU 1' if report['pinned'] else 'not pinned'}; "
        f"load average {env.get('load_before')} at start, "
        f"{env.get('load_after', env.get('load_reload_after'))} at end)"
    )
    print()
    print(f"| {'target':<70} | {'wanted':<9} | {'measured':>8} | {'':<6} | detail")
    print(f"|{'-' * 72}|{'-' * 11}|{'-' * 10}|{'-' * 8}|-------")
    for t in targets:
        print(
            f"| {t['what']:<70} | {t['wanted']:<9} | {t['measured']!s:>8} | "
            f"{'met' if t['met'] else 'MISSED':<6} | {t['detail']}"
        )
    print()
    if "envoy" in report:
        envoy = report["envoy"]
        c16_plain = best([r["requests_per_s"] for r in envoy["plain_c16"]])
        c16_authz = best([r["requests_per_s"] for r in envoy["authz_c16"]])
        print(
            f"envoy, 16 connections: {fmt(c16_authz)} req/s with ext_authz "
            f"(p50 {fmt(fastest([r['p50_ms'] for r in envoy['authz_c16']]), 3)} ms), {fmt(c16_plain)} "
            f"without (p50 {fmt(fastest([r['p50_ms'] for r in envoy['plain_c16']]), 3)} ms)"
        )
    if "ext_authz" in report:
        ext = report["ext_authz"]
        log = ext["decision_log"]
        print(
            f"decision log: {log['records']:,} records, {log['bytes'] / 1e6:,.1f} MB, "
            f"{log['dropped']} dropped; sidecar allowed {ext['sidecar_allows']:,} "
            f"checks, denied {ext['sidecar_denies']}"
        )
        if log["dropped"] or ext["sidecar_denies"]:
            print("WARNING: the sidecar dropped log records or denied checks: its figure is not comparable")
    if "reload" in report:
        reload = report["reload"]
        print(
            f"reload: scale-10k, Decide {fmt(reload['full_speed']['requests_per_s'])}/s at full speed "
            f"(request answered `{reload['answer']}`); paced {fmt(reload['paced']['requests_per_s'])}/s; "
            f"{reload['reloads_counted']} reloads counted by the sidecar"
        )
        print(f"  windows: {reload['windows']['rule']}")
        for name in ("steady", "swap"):
            stats = reload[name]
            print(
                f"  {name:<6} {stats['samples']:>8,} requests: p50 {fmt(stats['p50_ms'], 3)} ms, "
                f"p99 {fmt(stats['p99_ms'], 3)} ms, p99.9 {fmt(stats['p999_ms'], 3)} ms, "
                f"max {fmt(stats['max_ms'], 3)} ms"
            )
        for event in reload["reloads"]:
            reported = event["reported_ms"]
            print(
                f"  reload {event['n']}: {event['observed_ms']:,.1f} ms SIGHUP to `reloaded`"
                f"{'' if reported is None else f' (sidecar: {reported:,.1f} ms)'}; window "
                f"{event['window_ms']:,.0f} ms, {event['requests']:,} requests, p99 "
                f"{fmt(event['p99_ms'], 3)} ms, max {fmt(event['max_ms'], 3)} ms"
            )
        for event in reload["idle_reload"]:
            reported = event["reported_ms"]
            print(
                f"  reload with no load: {event['observed_ms']:,.1f} ms"
                f"{'' if reported is None else f' (sidecar: {reported:,.1f} ms)'}"
            )
    print(f"failed requests: {failures}; written {out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, ValueError, KeyError) as error:
        print(f"report: {error}", file=sys.stderr)
        sys.exit(1)
