#!/usr/bin/env python3
"""Instructions per request, counted by valgrind's callgrind: `just bench-instructions`.

Wall-clock figures on a shared 2-core machine move by ±30 % between sittings; the number of
instructions a build executes per request does not (user space only: the kernel's share, system
calls and scheduling, is not counted). Starts BINARY under callgrind with instrumentation off, seeds
it like bench.py, turns instrumentation on for one wrk run of SCENARIO at 8 connections, and prints
the instructions per request; `--annotate` also prints the functions by inclusive cost.

    python3 bench/instructions.py [--binary BIN] [--scenarios list,get,reject] [--seconds 3] [--annotate]

Works for the floor (`../shared/bench-floor`) too. Under valgrind the CPU has no SHA extensions,
so the JWT check counts several times what it costs natively, for both servers alike.
"""

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the same server start, seeding and wrk runs)


def control(pid, *args):
    # vgdb finds the process by the user and host names the server was started with.
    env = dict(os.environ, USER="root", LOGNAME="root", HOST="127.0.0.1")
    subprocess.run(["callgrind_control", *args, str(pid)], env=env, capture_output=True, check=False)


def count(binary, scenario, seconds, admin_url, annotate):
    name = f"todo_instr_{os.getpid()}_{scenario}"
    bench.psql(admin_url, f"CREATE DATABASE {name}")
    workdir = tempfile.mkdtemp(prefix="instructions-")
    out = os.path.join(workdir, "callgrind.out")
    wrapper = os.path.join(workdir, "server.sh")
    with open(wrapper, "w") as script:
        script.write("#!/bin/sh\nexport USER=root LOGNAME=root\n"
                     f"exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file={out} {binary} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    server = bench.Server(wrapper, admin_url.rsplit("/", 1)[0] + f"/{name}?sslmode=disable", "warn")
    try:
        data = os.path.join(workdir, "users.txt")
        with open(data, "w") as lines:
            lines.write("\n".join(bench.seed(server.address)) + "\n")
        bench.run_wrk(server.address, scenario, data, 1, 8)
        control(server.process.pid, "-i", "on")
        result = bench.run_wrk(server.address, scenario, data, seconds, 8)
        control(server.process.pid, "-i", "off")
        control(server.process.pid, "-d")
        time.sleep(1)
    finally:
        server.stop()
        bench.psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    dumps = glob.glob(out + ".*")
    total = 0
    for dump in dumps:
        with open(dump) as text:
            total += next((int(line.split()[1]) for line in text if line.startswith("totals:")), 0)
    if total == 0 or result["requests"] == 0:
        bench.fail(f"{scenario}: callgrind counted nothing (is callgrind_control able to reach the server?)")
    per_request = total / result["requests"]
    print(f"{scenario:7} {per_request / 1000:8.1f} k instructions/request ({result['requests']} requests)")
    if annotate and dumps:
        subprocess.run(["callgrind_annotate", "--inclusive=yes", max(dumps, key=os.path.getmtime)], check=False)
    return per_request


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=bench.BIN)
    parser.add_argument("--scenarios", default="list,get,create,reject")
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--annotate", action="store_true")
    parser.add_argument("--admin-url", default=os.environ.get("TEST_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control", "wrk"):
        if not subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).stdout:
            bench.fail(f"{tool} is not installed")
    print(f"{os.path.abspath(args.binary)} under callgrind, 8 connections, {args.seconds} s per scenario")
    for scenario in args.scenarios.split(","):
        count(os.path.abspath(args.binary), scenario.strip(), args.seconds, args.admin_url, args.annotate)


if __name__ == "__main__":
    main()
