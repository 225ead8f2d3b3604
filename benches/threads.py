#!/usr/bin/env python3
"""CPU seconds of each of a command's threads, by thread name.

    benches/threads.py target/release/picket replay -q -t 2 -o /dev/null FILE

Runs the command and reads /proc/PID/task/*/stat every 20 ms while it
runs; prints, when it ends, user + system seconds per thread name (threads
of one name added up: aggregate-0, aggregate-1, merge, pager, and the
capture thread under the program's name). Sampling profilers charge time
to the wrong thread on this kind of machine (page faults under
virtualisation land on whatever instruction was running); the kernel's
per-thread accounting does not. A thread that ends between two reads
loses at most its last 20 ms. The command's standard output is thrown
away.
"""

import os
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    tick = os.sysconf("SC_CLK_TCK")
    # Write-only: picket takes a read-write /dev/null on its standard
    # output for a descriptor that was closed.
    with open(os.devnull, "w") as null:
        child = subprocess.Popen(sys.argv[1:], stdout=null)
    seen = {}
    while child.poll() is None:
        try:
            tids = os.listdir(f"/proc/{child.pid}/task")
        except OSError:
            break
        for tid in tids:
            try:
                with open(f"/proc/{child.pid}/task/{tid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            # utime and stime: fields 14 and 15 of stat(5).
            seen[tid] = (name, (int(fields[11]) + int(fields[12])) / tick)
        time.sleep(0.02)
    total = {}
    for name, cpu in seen.values():
        total[name] = total.get(name, 0.0) + cpu
    print(" ".join(f"{n}={c:.2f}" for n, c in sorted(total.items())))
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
