#!/usr/bin/env python3
"""Load benchmark of the Todo API: `just bench` (see specs/performance.md).

Builds the release binary, starts it on a fresh database, seeds 100 users x 20 tasks through the
API, then drives seven scenarios with wrk at 64 connections and measures the same SQL with pgbench
(the ceiling each scenario is compared with), and what CPU each request cost the server,
PostgreSQL and the load generator. Prints a table and writes JSON under target/bench/.
A benchmark, not a test: it exits non-zero only when it cannot run or a scenario sees errors, never
on a number.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "todo-api")
OUT_DIR = os.path.join(ROOT, "target", "bench")
SECRET = "benchmark-secret-" + os.urandom(8).hex()
USERS, TASKS_PER_USER = 100, 20
SCENARIOS = ["list", "get", "create", "put", "toggle", "mixed", "reject"]
# Which pgbench ceiling each database scenario is compared with.
CEILING_OF = {"list": "list", "get": "get", "create": "insert"}

TASK_COLUMNS = "id, user_id, title, description, completed, created_at, updated_at"
PGBENCH_SCRIPTS = {
    # The statements the list, get and create paths run (owner-scoped, one round trip each).
    "list": "\\set u random(0, %d)\n"
    "SELECT %s FROM tasks WHERE user_id = 'bench-' || :u ORDER BY created_at DESC, id DESC;\n" % (USERS - 1, TASK_COLUMNS),
    "get": "\\set id random(1, %d)\n"
    "SELECT %s FROM tasks WHERE id = :id AND user_id = 'bench-' || ((:id - 1) / %d);\n"
    % (USERS * TASKS_PER_USER, TASK_COLUMNS, TASKS_PER_USER),
    "insert": "\\set u random(0, %d)\n"
    "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) "
    "VALUES ('bench-writer-' || :u, 'bench task', 'created under load', false, now(), now()) RETURNING %s;\n"
    % (USERS - 1, TASK_COLUMNS),
}


def fail(message):
    print(f"bench: {message}", file=sys.stderr)
    sys.exit(1)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(user):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"sub": user, "exp": int(time.time()) + 86400}).encode())
    signature = hmac.new(SECRET.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64url(signature)}"


def ensure_tools(backend):
    if not shutil.which("wrk"):
        print("installing wrk (Debian package)")
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, stdout=subprocess.DEVNULL)
    if not shutil.which("wrk"):
        fail("wrk is not installed and could not be installed (apt-get install wrk)")
    if backend == "postgres" and not shutil.which("pgbench"):
        fail("pgbench is not installed (it comes with PostgreSQL)")


def psql(admin_url, sql):
    subprocess.run(["psql", admin_url, "-qc", sql], check=True)


class Server:
    def __init__(self, binary, database_url, log_filter):
        env = {
            "PATH": os.environ.get("PATH", ""),
            "BETTER_AUTH_SECRET": SECRET,
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": "0",
            "LOG_FORMAT": "json",
            # The start-up lines (the listening address) are needed whatever the filter.
            "RUST_LOG": f"{log_filter},todo_api::startup=info,todo_api::server=info",
        }
        # Tuning knobs under test (DB_MAX_CONNECTIONS, ...) pass through from the environment.
        env.update({k: v for k, v in os.environ.items() if k.startswith(("DB_", "REQUEST_", "TOKIO_"))})
        self.log = tempfile.TemporaryFile(mode="w+")
        started = time.monotonic()
        self.process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=self.log, cwd=tempfile.gettempdir())
        self.address = None
        while time.monotonic() - started < 30:
            if self.process.poll() is not None:
                self.log.seek(0)
                fail("the server exited:\n" + self.log.read())
            self.log.seek(0)
            # The service logs `"address":"host:port"`; the floor prints `listening on http://host:port`.
            match = re.search(r'"address":"([^"]+)"|listening on http://(\S+:\d+)\n', self.log.read())
            if match:
                self.address = match.group(1) or match.group(2)
                break
            time.sleep(0.002)
        if not self.address:
            self.process.kill()
            self.log.seek(0)
            fail("the server did not start within 30 s:\n" + self.log.read()[-4000:])
        host, port = self.address.rsplit(":", 1)
        while True:
            try:
                conn = http.client.HTTPConnection(host, int(port), timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.002)
        self.ready_ms = (time.monotonic() - started) * 1000

    def rss_kib(self):
        values = {}
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(value.split()[0])
        return values

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def seed(address):
    """Creates USERS x TASKS_PER_USER tasks through the API; returns the wrk data lines."""
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    lines = []
    for u in range(USERS):
        user = f"bench-{u}"
        token = mint(user)
        ids = []
        for t in range(TASKS_PER_USER):
            body = json.dumps({"title": f"task {t} of {user}", "description": "seeded"})
            conn.request("POST", "/api/tasks", body, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            resp = conn.getresponse()
            payload = resp.read()
            if resp.status != 201:
                fail(f"seeding answered {resp.status}: {payload[:200]!r}")
            ids.append(str(json.loads(payload)["id"]))
        lines.append(" ".join(["R", token] + ids))
    # Writers: created tasks go to them, so the readers' lists keep 20 tasks throughout.
    lines.extend(f"W {mint(f'bench-writer-{u}')}" for u in range(USERS))
    return lines


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, with_children=False):
    """User + system CPU time of one process so far (0 once it has gone), with that of its
    children that have exited if asked."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The fields after the command name, which is in parentheses and may hold spaces.
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def postgres_cpu_seconds():
    """CPU time so far of every PostgreSQL process on this machine: the backends serving the run
    and the writers behind them (WAL, checkpoints), and, through the postmaster's count of its
    exited children, the ones that ended (an autovacuum worker). Nothing else uses PostgreSQL
    during a run."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() != "postgres":
                        continue
            except OSError:
                continue
            total += cpu_seconds(entry, with_children=True)
    return total


def run_wrk(address, scenario, data_file, seconds, connections):
    env = dict(os.environ, SCENARIO=scenario, BENCH_DATA=data_file)
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
           "-s", os.path.join(ROOT, "bench", "wrk.lua"), f"http://{address}"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^RESULT (\{.*\})$", out, re.M)
    if not match:
        fail(f"wrk printed no result for {scenario}:\n{out}")
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def run_pgbench(database_url, name, seconds, connections):
    # libpq's own spelling of the same URL (it knows sslmode too).
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPTS[name])
    try:
        out = subprocess.run(
            ["pgbench", "-n", "-M", "prepared", f"-c{connections}", "-j2", f"-T{seconds}", "-f", script.name, database_url],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    if not match:
        fail(f"pgbench printed no tps for {name}:\n{out}")
    return float(match.group(1))


class Database:
    """A fresh database (PostgreSQL) or file (SQLite) for one server session."""

    def __init__(self, args, workdir, tag):
        self.args = args
        self.name = f"todo_bench_{os.getpid()}_{tag}".replace("-", "_")
        if args.backend == "postgres":
            psql(args.admin_url, f"CREATE DATABASE {self.name}")
            self.url = args.admin_url.rsplit("/", 1)[0] + "/" + self.name
            self.url += "?sslmode=" + ("require" if args.tls else "disable")
        else:
            self.url = f"sqlite://{workdir}/{self.name}.db"

    def drop(self):
        if self.args.backend == "postgres":
            psql(self.args.admin_url, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


class Contender:
    """One server on a fresh database, seeded: what the scenarios of a session (or of a round of
    a comparison) run against."""

    def __init__(self, binary, args, workdir, tag):
        self.args = args
        self.database = Database(args, workdir, tag)
        self.server = None
        try:
            self.server = Server(binary, self.database.url, args.log)
            print(f"{tag}: server ready in {self.server.ready_ms:.0f} ms ({args.backend}); "
                  f"seeding {USERS} users x {TASKS_PER_USER} tasks")
            self.data_file = os.path.join(workdir, f"users-{tag}.txt")
            with open(self.data_file, "w") as data:
                data.write("\n".join(seed(self.server.address)) + "\n")
        except BaseException:
            self.close()
            raise

    def run(self, scenario, label):
        """A warm-up, then one measured run of `scenario`, with the CPU time each side spent on it
        per request: where a request's cost lies (server, PostgreSQL, load generator) and how much
        of the machine sat idle (waiting on locks or flushes rather than computing)."""
        args = self.args
        run_wrk(self.server.address, scenario, self.data_file, args.warmup, args.connections)
        before = self.cpu_now()
        result = run_wrk(self.server.address, scenario, self.data_file, args.seconds, args.connections)
        after = self.cpu_now()
        result["rss_kib"] = self.server.rss_kib()["VmRSS"]
        spent = {side: after[side] - before[side] for side in after}
        per_request = 1e6 / max(result["requests"], 1)
        for side in ("server", "database", "load"):
            result[f"{side}_cpu_us"] = spent[side] * per_request
        busy = spent["server"] + spent["database"] + spent["load"]
        result["idle"] = max(0.0, 1 - busy / spent["wall"] / os.cpu_count())
        print(f"  {label} {scenario:7} {result['rps']:10.0f} req/s  p99 {result['p99_us'] / 1000:6.2f} ms"
              f"  errors {result['bad_status'] + result['socket_errors']}"
              f"  cpu/request us: server {result['server_cpu_us']:.0f} database {result['database_cpu_us']:.0f}"
              f" wrk {result['load_cpu_us']:.0f}  idle {result['idle'] * 100:.0f} %")
        return result

    def cpu_now(self):
        # wrk is a finished child by the time it is counted: its time is in RUSAGE_CHILDREN.
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"server": cpu_seconds(self.server.process.pid), "database": postgres_cpu_seconds(),
                "load": children.ru_utime + children.ru_stime, "wall": time.monotonic()}

    def peak_rss_kib(self):
        return self.server.rss_kib()["VmHWM"]

    def close(self):
        if self.server:
            self.server.stop()
        self.database.drop()


def session(binary, args, workdir, tag, runs, with_ceilings):
    """Starts `binary` on a fresh database, seeds it and runs every scenario `runs` times.
    Returns {scenario: [results]}, {pgbench name: [tps]}, peak RSS in KiB and start-up ms."""
    contender = Contender(binary, args, workdir, tag)
    try:
        results = {scenario: [] for scenario in SCENARIOS}
        ceilings = {name: [] for name in PGBENCH_SCRIPTS} if with_ceilings else {}
        peak_rss = 0
        for run in range(runs):
            for scenario in SCENARIOS:
                results[scenario].append(contender.run(scenario, f"{tag} run {run + 1}"))
            for name in ceilings:
                ceilings[name].append(run_pgbench(contender.database.url, name, args.seconds, args.connections))
            peak_rss = max(peak_rss, contender.peak_rss_kib())
        return results, ceilings, peak_rss, contender.server.ready_ms
    finally:
        contender.close()


def median_run(results):
    return sorted(results, key=lambda r: r["rps"])[len(results) // 2]


def summarise(runs, ceilings):
    summary = {}
    for scenario, results in runs.items():
        chosen = median_run(results)
        ceiling_name = CEILING_OF.get(scenario)
        ceiling = statistics.median(ceilings[ceiling_name]) if ceiling_name and ceilings else None
        summary[scenario] = {
            "rps": round(chosen["rps"]),
            "p50_ms": chosen["p50_us"] / 1000,
            "p99_ms": chosen["p99_us"] / 1000,
            "errors": sum(r["bad_status"] + r["socket_errors"] for r in results),
            "bad_bodies": sum(r["bad_body"] for r in results),
            "sampled_bodies": sum(r["sampled"] for r in results),
            "rss_mib": chosen["rss_kib"] / 1024,
            # CPU per request of the median run, in microseconds, and the machine's idle share.
            "server_cpu_us": round(chosen["server_cpu_us"], 1),
            "database_cpu_us": round(chosen["database_cpu_us"], 1),
            "load_cpu_us": round(chosen["load_cpu_us"], 1),
            "idle": round(chosen["idle"], 3),
            "pgbench_ceiling": round(ceiling) if ceiling else None,
            "fraction_of_ceiling": chosen["rps"] / ceiling if ceiling else None,
            "runs_rps": [round(r["rps"]) for r in results],
        }
    return summary


def write_report(args, report):
    os.makedirs(OUT_DIR, exist_ok=True)
    kind = "vs-baseline" if args.baseline else args.backend
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    for name in (f"{kind}-{stamp}.json", f"{kind}-latest.json"):
        with open(os.path.join(OUT_DIR, name), "w") as out:
            json.dump(report, out, indent=2)


def check_health(label, summary):
    broken = [s for s, row in summary.items() if row["errors"] or row["bad_bodies"] or not row["sampled_bodies"]]
    if broken:
        fail(f"{label}: scenarios with errors or unchecked bodies: {', '.join(broken)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--seconds", type=int, default=10, help="measured duration of each scenario")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured warm-up before each scenario")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (rounds with --baseline); the median is reported")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--log", default="warn", help="the server's RUST_LOG during the run")
    parser.add_argument("--tls", action="store_true",
                        help="use TLS to PostgreSQL (server and pgbench alike); off by default on loopback")
    parser.add_argument("--baseline", metavar="BINARY",
                        help="another build of the service (or the floor) to run alternately with this one, "
                             "each round on fresh databases; prints both and the ratio")
    parser.add_argument("--binary", default=BIN, help="the build under test (default: this checkout's release build)")
    parser.add_argument("--smoke", action="store_true", help="a short run that only proves the benchmark works")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help="comma-separated subset of the scenarios to run (default: all)")
    parser.add_argument("--admin-url", default=os.environ.get("TEST_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    chosen = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown or not chosen:
        fail(f"unknown scenarios {unknown}; choose among {', '.join(SCENARIOS)}")
    # The rest of the script iterates SCENARIOS: narrow it, keeping the canonical order.
    SCENARIOS[:] = [name for name in SCENARIOS if name in chosen]
    if args.smoke:
        args.seconds, args.warmup, args.runs = 2, 1, 1
    # The servers run in a temporary directory: binaries are named by absolute path.
    args.binary = os.path.abspath(args.binary)
    args.baseline = os.path.abspath(args.baseline) if args.baseline else None

    ensure_tools(args.backend)
    if args.binary == BIN:
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    for binary in [args.binary] + ([args.baseline] if args.baseline else []):
        if not os.access(binary, os.X_OK):
            fail(f"{binary} is not an executable")

    workdir = tempfile.mkdtemp(prefix="todo-bench-")
    try:
        if args.baseline:
            compare(args, workdir)
        else:
            single(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def single(args, workdir):
    runs, ceilings, peak_rss, ready_ms = session(
        args.binary, args, workdir, "this", args.runs, with_ceilings=args.backend == "postgres")
    summary = summarise(runs, ceilings)
    print()
    print(f"{'scenario':9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'RSS MiB':>8} {'ceiling':>9} {'of ceiling':>10}"
          f" {'server us':>10} {'db us':>7}")
    for scenario, row in summary.items():
        ceiling = f"{row['pgbench_ceiling']:>9}" if row["pgbench_ceiling"] else f"{'-':>9}"
        fraction = f"{row['fraction_of_ceiling'] * 100:>9.0f}%" if row["fraction_of_ceiling"] else f"{'-':>10}"
        print(f"{scenario:9} {row['rps']:>9} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
              f"{row['errors'] + row['bad_bodies']:>7} {row['rss_mib']:>8.1f} {ceiling} {fraction}"
              f" {row['server_cpu_us']:>10.0f} {row['database_cpu_us']:>7.0f}")
    print("(server us, db us: CPU per request of the median run, the server's and PostgreSQL's)")
    print(f"peak RSS {peak_rss / 1024:.1f} MiB; ready in {ready_ms:.0f} ms; {args.runs} run(s) of {args.seconds} s, "
          f"{args.connections} connections, backend {args.backend}, RUST_LOG={args.log}, "
          f"TLS to the database {'on' if args.tls else 'off'}")
    write_report(args, {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "backend": args.backend, "seconds": args.seconds, "runs": args.runs, "connections": args.connections,
        "log_filter": args.log, "tls": args.tls, "ready_ms": ready_ms, "peak_rss_mib": peak_rss / 1024,
        "pgbench_tps": {name: [round(x) for x in values] for name, values in ceilings.items()},
        "scenarios": summary,
    })
    check_health("this build", summary)


def compare(args, workdir):
    """Each round starts both builds on fresh databases, then runs every scenario on one and at
    once on the other, the order alternating (ABBA) from scenario to scenario and round to round.

    The two runs of a scenario are seconds apart, not a whole round: this machine's speed drifts
    by tens of percent within minutes, and a drift between the two runs of a pair lands on the
    ratio. Each pair's own ratio is printed too; their median is the steadier figure."""
    contenders = {"this": args.binary, "baseline": args.baseline}
    runs = {name: {scenario: [] for scenario in SCENARIOS} for name in contenders}
    pair_ratios = {scenario: [] for scenario in SCENARIOS}
    peak = {name: 0 for name in contenders}
    for round_number in range(args.runs):
        order = ["this", "baseline"] if round_number % 2 == 0 else ["baseline", "this"]
        started = {}
        try:
            for name in order:
                started[name] = Contender(contenders[name], args, workdir, f"{name}-r{round_number + 1}")
            for index, scenario in enumerate(SCENARIOS):
                pair = {}
                for name in order if index % 2 == 0 else order[::-1]:
                    pair[name] = started[name].run(scenario, f"{name} round {round_number + 1}")
                    runs[name][scenario].append(pair[name])
                pair_ratios[scenario].append(pair["this"]["rps"] / pair["baseline"]["rps"])
            for name, contender in started.items():
                peak[name] = max(peak[name], contender.peak_rss_kib())
        finally:
            for contender in started.values():
                contender.close()
    summaries = {name: summarise(runs[name], {}) for name in contenders}
    print()
    print(f"this: {args.binary}\nbaseline: {args.baseline}")
    print(f"{'scenario':9} {'this req/s':>11} {'base req/s':>11} {'this/base':>10} {'this p99':>9} {'base p99':>9}"
          f"  pairs (median)")
    for scenario in SCENARIOS:
        this, base = summaries["this"][scenario], summaries["baseline"][scenario]
        pairs = " / ".join(f"{ratio * 100:.0f}" for ratio in pair_ratios[scenario])
        print(f"{scenario:9} {this['rps']:>11} {base['rps']:>11} {this['rps'] / base['rps'] * 100:>9.0f}% "
              f"{this['p99_ms']:>8.2f} {base['p99_ms']:>8.2f}  {pairs} % "
              f"({statistics.median(pair_ratios[scenario]) * 100:.0f} %)")
    print()
    print("CPU per request of the median runs, in microseconds (server + database), and idle share")
    print(f"{'scenario':9} {'this':>15} {'baseline':>15} {'this idle':>10} {'base idle':>10}")
    for scenario in SCENARIOS:
        cells = []
        for name in contenders:
            row = summaries[name][scenario]
            cells.append(f"{row['server_cpu_us']:.0f} + {row['database_cpu_us']:.0f}")
        print(f"{scenario:9} {cells[0]:>15} {cells[1]:>15} {summaries['this'][scenario]['idle'] * 100:>9.0f}% "
              f"{summaries['baseline'][scenario]['idle'] * 100:>9.0f}%")
    print(f"peak RSS this {peak['this'] / 1024:.1f} MiB, baseline {peak['baseline'] / 1024:.1f} MiB; "
          f"medians of {args.runs} alternating round(s) of {args.seconds} s, {args.connections} connections, "
          f"backend {args.backend}, RUST_LOG={args.log}")
    write_report(args, {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "this": args.binary, "baseline": args.baseline, "backend": args.backend, "seconds": args.seconds,
        "rounds": args.runs, "connections": args.connections, "log_filter": args.log,
        "peak_rss_mib": {name: value / 1024 for name, value in peak.items()},
        "scenarios": summaries,
        "ratio": {s: summaries["this"][s]["rps"] / summaries["baseline"][s]["rps"] for s in SCENARIOS},
        "pair_ratios": pair_ratios,
    })
    for name, summary in summaries.items():
        check_health(name, summary)


if __name__ == "__main__":
    main()
