#!/usr/bin/env python3
"""Reloads a running `rampart serve` while scripts/sidecar-load.sh drives load on it (the
reload phase), and records when each reload was asked for and when it was done.

    reload_driver.py marker POLICY_DIR N
    reload_driver.py run PID POLICY_DIR SIDECAR_LOG EVENTS_OUT FIRST_S EVERY_S COUNT

`marker` writes POLICY_DIR/zz-reload.rampart: one rule of package `bench` whose id and
principal name N (`run` adds the time), so that each reload compiles a set that really
differs (a new revision; nothing can skip it as a no-op). It is written next to its place under a hidden name and
renamed over it, as an operator deploys a file.

`run` waits FIRST_S seconds, then COUNT times, EVERY_S seconds apart (counted from the
previous reload's start; a reload that takes longer delays the next): rewrites the marker,
sends SIGHUP to PID and waits (60 s at most) for the sidecar's `reloaded (SIGHUP)` line in
SIDECAR_LOG, read every 2 ms. EVENTS_OUT gets one tab-separated line per reload: its
number, when SIGHUP was sent and when the line was seen (µs since the epoch, as in h2load's
--log-file), the revision before and after, and the duration the line reports in ms (`-`
when it reports none). Exits 1 when a reload fails or its revision does not change.
Standard library only.
"""

import os
import re
import signal
import sys
import time
from pathlib import Path

RELOADED = re.compile(
    r"^rampart serve: reloaded \(SIGHUP\) bundle=(\S+) \(was (\S+)\)(?: in ([\d.]+) ms)?"
)
FAILED = re.compile(r"^rampart serve: reload \(SIGHUP\) failed")


def marker(policy_dir, n):
    text = (
        "package bench\n\n"
        f'@id("reload-marker-{n}")\n'
        'deny "api0:op0" on Res0 for User\n'
        f'  when principal == User::"reload-marker-{n}"\n'
    )
    final = Path(policy_dir) / "zz-reload.rampart"
    temporary = Path(policy_dir) / ".zz-reload.rampart.tmp"
    temporary.write_text(text)
    os.replace(temporary, final)


def now_us():
    return time.time_ns() // 1000


def run(pid, policy_dir, log, events_out, first, every, count):
    offset = Path(log).stat().st_size
    events = []
    next_at = time.monotonic() + first
    for n in range(1, count + 1):
        marker(policy_dir, f"{n}-{now_us()}")
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        started = time.monotonic()
        sent = now_us()
        os.kill(pid, signal.SIGHUP)
        seen, line = None, None
        with open(log, "rb") as f:
            f.seek(offset)
            buffer = b""
            while line is None and time.monotonic() - started < 60:
                chunk = f.read()
                buffer += chunk
                while b"\n" in buffer:
                    raw, buffer = buffer.split(b"\n", 1)
                    offset += len(raw) + 1
                    candidate = raw.decode(errors="replace")
                    if RELOADED.match(candidate):
                        seen, line = now_us(), candidate
                        break
                    if FAILED.match(candidate):
                        rest = f.read().decode(errors="replace")
                        print(f"reload {n} failed: {candidate}\n{rest}", file=sys.stderr)
                        return 1
                if line is None:
                    time.sleep(0.002)
        if line is None:
            print(f"reload {n}: no `reloaded` line within 60 s", file=sys.stderr)
            return 1
        match = RELOADED.match(line)
        revision, previous, reported = match.group(1), match.group(2), match.group(3)
        if revision == previous:
            print(f"reload {n}: the revision did not change ({revision})", file=sys.stderr)
            return 1
        events.append(f"{n}\t{sent}\t{seen}\t{previous}\t{revision}\t{reported or '-'}")
        next_at = started + every
    Path(events_out).write_text("".join(e + "\n" for e in events))
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "marker":
        marker(argv[2], int(argv[3]))
        return 0
    if len(argv) == 9 and argv[1] == "run":
        return run(
            int(argv[2]), argv[3], argv[4], argv[5], float(argv[6]), float(argv[7]), int(argv[8])
        )
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
