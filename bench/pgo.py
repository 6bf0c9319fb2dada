#!/usr/bin/env python3
"""Profile-guided release build: `just release-pgo` (see specs/performance.md).

The request path runs through poem, poem-openapi, SeaORM, sqlx, hyper and our own layers: far more
code than a request's few microseconds of work, so how that code is laid out (which branches are
the likely ones, what is inlined, what sits together in the instruction cache) decides much of
its speed. A build with the profile of a real load knows; a plain build guesses.

1. builds the server instrumented (`-Cprofile-generate`) into target/pgo/generate;
2. trains it: on PostgreSQL, every benchmark scenario (bench.py's, weighted as there) and a pass
   over the rest of the API (filters, sorts, searches, field updates, deletes, the user-scoped
   routes, conditional and keyed requests, CORS preflights, errors, health and metrics), so that
   no route the frontends use is laid out as cold code; then a shorter pass on SQLite;
3. merges the profiles (llvm-profdata from rustup's `llvm-tools`, added on demand) and builds
   target/pgo/use/release/todo-api with them (`-Cprofile-use`).

Needs what `just bench` needs (PostgreSQL, wrk). The binary behaves exactly as the plain release
build: only the compiler's layout and inlining decisions differ.
"""

import argparse
import glob
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the same server start, seeding and wrk runs)

ROOT = bench.ROOT
PGO_DIR = os.path.join(ROOT, "target", "pgo")


def fail(message):
    print(f"pgo: {message}", file=sys.stderr)
    sys.exit(1)


def llvm_profdata():
    """rustup's llvm-profdata, of the same LLVM as rustc (its profile format must match)."""
    def rustc(*args):
        return subprocess.run(["rustc", *args], capture_output=True, text=True, check=True).stdout

    sysroot = rustc("--print", "sysroot").strip()
    host = re.search(r"^host: (\S+)$", rustc("-vV"), re.M).group(1)
    tool = os.path.join(sysroot, "lib", "rustlib", host, "bin", "llvm-profdata")
    if not os.access(tool, os.X_OK):
        print("adding rustup's llvm-tools component (llvm-profdata)")
        subprocess.run(["rustup", "component", "add", "llvm-tools"], check=False)
    if not os.access(tool, os.X_OK):
        fail(f"{tool} is missing and `rustup component add llvm-tools` did not add it")
    return tool


def cargo_build(target_dir, rustflags):
    env = dict(os.environ, CARGO_TARGET_DIR=target_dir, RUSTFLAGS=rustflags)
    subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, env=env, check=True)
    return os.path.join(target_dir, "release", "todo-api")


class Client:
    """Plain HTTP/1.1 requests to the server under training; every answer's status is checked, so
    a pass that went wrong (and would train the error paths instead) stops the build."""

    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=10)

    def call(self, method, path, token=None, body=None, headers=None, expect=(200,)):
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if body is not None:
            body = json.dumps(body)
            sent["Content-Type"] = "application/json"
        self.conn.request(method, path, body, sent)
        response = self.conn.getresponse()
        payload = response.read()
        if response.status not in expect:
            fail(f"{method} {path} answered {response.status}, not {expect}: {payload[:300]!r}")
        return response, (json.loads(payload) if payload and payload[:1] in (b"{", b"[") else None)


LIST_QUERIES = [
    "?completed=false", "?status=completed", "?search=task", "?q=SEEDED", "?priority=high,urgent",
    "?tags=home", "?sort=title", "?sort=-priority", "?sort=due_date&order=desc", "?sort=updated_at",
    "?due_before=2030-01-01", "?due_after=2020-01-01T00:00:00Z", "?overdue=true",
    "?due_date_filter=this_week&tz=Europe/Paris", "?limit=5&offset=5", "?page=2&limit=5",
]


def breadth_pass(address, rounds):
    """The API beyond the benchmark's hot requests, `rounds` times, as a frontend uses it."""
    client = Client(address)
    token = bench.mint("pgo-trainer")
    other = bench.mint("pgo-other")
    for round_number in range(rounds):
        _, task = client.call("POST", "/api/tasks", token, {
            "title": f"Plan {round_number}", "description": "with details", "priority": "high",
            "tags": ["home", "Errands"], "due_date": "2031-05-04", "reminder_at": "2031-05-03T09:00:00Z",
        }, expect=(201,))
        task_id = task["id"]
        _, recurring = client.call("POST", "/api/tasks", token, {
            "title": "Water plants", "is_recurring": True, "recurrence_type": "weekly", "due_date": "2031-05-04T08:00:00Z",
        }, expect=(201,))
        for query in LIST_QUERIES:
            client.call("GET", "/api/tasks" + query, token)
        response, _ = client.call("GET", f"/api/tasks/{task_id}", token)
        etag = response.getheader("ETag")
        client.call("GET", f"/api/tasks/{task_id}", token, headers={"If-None-Match": etag}, expect=(304,))
        client.call("PATCH", f"/api/tasks/{task_id}", token, {"priority": "low", "tags": ["work"]},
                    headers={"If-Match": etag})
        client.call("PATCH", f"/api/tasks/{task_id}", token, {"title": "x"}, headers={"If-Match": etag}, expect=(412,))
        client.call("PUT", f"/api/tasks/{task_id}", token, {"title": "Plan, again", "completed": True})
        client.call("PATCH", f"/api/tasks/{task_id}/status", token, {"completed": False})
        client.call("PATCH", f"/api/tasks/{task_id}/toggle", token)
        client.call("POST", f"/api/tasks/{task_id}/toggle", token)
        client.call("PATCH", f"/api/tasks/{recurring['id']}/complete", token)
        key = {"Idempotency-Key": f"pgo-{os.getpid()}-{round_number}"}
        for _ in range(2):
            client.call("POST", "/api/tasks", token, {"title": "Keyed"}, headers=key, expect=(201,))
        client.call("GET", "/api/pgo-trainer/tasks?sort=title", token)
        client.call("POST", "/api/pgo-trainer/tasks", token, {"title": "Scoped"}, expect=(201,))
        client.call("GET", f"/api/pgo-trainer/tasks/{task_id}", token)
        client.call("PATCH", f"/api/pgo-trainer/tasks/{task_id}/complete", token)
        # Refusals: another user's task, a bad body, no token, a forged one, an unknown route.
        client.call("GET", f"/api/tasks/{task_id}", other, expect=(404,))
        client.call("GET", f"/api/pgo-trainer/tasks/{task_id}", other, expect=(403,))
        client.call("POST", "/api/tasks", token, {"title": ""}, expect=(422,))
        client.call("POST", "/api/tasks", token, {"title": 7}, expect=(400, 422))
        client.call("GET", "/api/tasks", expect=(401,))
        client.call("GET", "/api/tasks", token[:-4] + "AAAA", expect=(401,))
        client.call("GET", "/api/nothing-here", token, expect=(404,))
        client.call("OPTIONS", "/api/tasks", headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        }, expect=(200, 204))
        client.call("GET", "/api/tasks", token, headers={"Origin": "http://localhost:3000"})
        client.call("DELETE", f"/api/tasks/{task_id}", token, expect=(200, 204))
        client.call("DELETE", f"/api/pgo-trainer/tasks/{recurring['id']}", token, expect=(200, 204))
        client.call("GET", "/health")
        client.call("GET", "/metrics")


def train(binary, backend, admin_url, seconds, breadth_rounds):
    args = argparse.Namespace(backend=backend, admin_url=admin_url, tls=False, log="warn",
                              warmup=1, seconds=seconds, connections=64)
    workdir = tempfile.mkdtemp(prefix="todo-pgo-")
    contender = bench.Contender(binary, args, workdir, f"train-{backend}")
    try:
        breadth_pass(contender.server.address, breadth_rounds)
        for scenario in bench.SCENARIOS:
            contender.run(scenario, f"training ({backend})")
    finally:
        # SIGTERM: the server drains and exits normally, which is when it writes its profile.
        contender.close()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4, help="each benchmark scenario's training run on PostgreSQL")
    parser.add_argument("--admin-url", default=os.environ.get("TEST_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()

    bench.ensure_tools("postgres")
    profdata = llvm_profdata()
    raw = os.path.join(PGO_DIR, "raw")
    shutil.rmtree(raw, ignore_errors=True)
    instrumented = cargo_build(os.path.join(PGO_DIR, "generate"), f"-Cprofile-generate={raw}")
    # Build scripts and proc macros ran instrumented too while building: only the server's counts.
    shutil.rmtree(raw, ignore_errors=True)

    train(instrumented, "postgres", args.admin_url, args.seconds, breadth_rounds=20)
    train(instrumented, "sqlite", args.admin_url, 1, breadth_rounds=5)
    # One file per binary: the runs' counts add up in it (the `%m` in its default name).
    profiles = glob.glob(os.path.join(raw, "*.profraw"))
    if not profiles:
        fail(f"the training servers wrote no profile into {raw}")
    merged = os.path.join(PGO_DIR, "merged.profdata")
    subprocess.run([profdata, "merge", "-o", merged, *profiles], check=True)
    # Named by its content: cargo rebuilds when RUSTFLAGS change, not when a file they name does,
    # so a new profile must change the flags for every crate to be rebuilt with it.
    with open(merged, "rb") as profile:
        digest = hashlib.sha256(profile.read()).hexdigest()[:16]
    for old in glob.glob(os.path.join(PGO_DIR, "profile-*.profdata")):
        os.unlink(old)
    named = os.path.join(PGO_DIR, f"profile-{digest}.profdata")
    os.replace(merged, named)

    binary = cargo_build(os.path.join(PGO_DIR, "use"), f"-Cprofile-use={named}")
    print(f"profile-guided build: {binary}")


if __name__ == "__main__":
    main()
