#!/usr/bin/env python3
"""Scale-out proof: `just scale` (see specs/scale.md).

Three runs of the release binary, each on a fresh database, under the same ordered load:

  direct  one instance straight to PostgreSQL, no faults: the reference req/s.
  pooled  three instances started at the same moment on an empty database, behind HAProxy
          (round robin, health checks on /health) with PgBouncer (transaction pooling, as Neon's
          `-pooler` host) in front of PostgreSQL.
  citus   the same, with PgBouncer in front of a Citus coordinator (two workers, TLS on), where
          the start-up migration distributes `tasks` by user.

In the pooled and citus runs one instance is killed with SIGKILL and started again, then all three
are restarted one after another with SIGTERM (each drains first: SHUTDOWN_DRAIN_SECONDS).

The load: USERS users, each a thread with its own keep-alive connection, calling in order (create,
rename, toggle, delete, list, get, and a read of another user's task that must answer 404). Every
acknowledged answer goes into a ledger; a request that failed is recorded with the effect it may or
may not have had. At the end the database is read directly and must match the ledger:

  * every acknowledged create exists exactly once, every acknowledged rename, completion and delete
    is reflected, and a failed request is either fully applied or not at all;
  * no row is half-written (`completed_at` set exactly when completed, the search copy of the
    title matching the title, `updated_at` not before `created_at`);
  * no answer ever carried another user's task;
  * the rolling SIGTERM restart failed no request; the SIGKILL failed only requests in flight on
    that instance.

Prints a table and writes JSON under target/scale/. Exits non-zero when a rule is broken or a
component (HAProxy, PgBouncer, PostgreSQL, Citus) is missing; `--smoke` shortens the runs for CI.
"""

import argparse
import base64
import collections
import datetime
import hashlib
import hmac
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "todo-api")
OUT_DIR = os.path.join(ROOT, "target", "scale")
CLUSTER = os.path.join(ROOT, "tests", "citus", "cluster.sh")
SECRET = "scale-secret-" + os.urandom(8).hex()
ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/test")
INSTANCES = 3
# HAProxy checks every 250 ms and takes an instance out after two failed checks; an instance drains
# for longer than that before it stops accepting, and a request sent to a dead one meanwhile is
# refused before anything was sent, so HAProxy retries it on another.
CHECK_INTERVAL_MS = 250
CHECK_FALL = 2
# How long one check may take. Without `timeout check` HAProxy gives a check only `inter` (250 ms):
# on two cores shared by everything here HAProxy was sometimes late itself, timed out the checks of
# all three healthy instances at once and answered 503 on its own. A dead instance still fails at
# once (connection refused), a draining one at once (its 503); the service's own database ping
# gives up after 2 s.
CHECK_TIMEOUT_S = 2
DRAIN_SECONDS = 2
# A request that fails within this long after the SIGKILL was in flight on the killed instance
# (or sent over a connection to it that HAProxy had not yet seen close).
KILL_WINDOW_SECONDS = 1.0
MAX_LIVE_TASKS = 30


def fail(message):
    print(f"scale: {message}", file=sys.stderr)
    sys.exit(1)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(user):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"sub": user, "exp": int(time.time()) + 86400}).encode())
    signature = hmac.new(SECRET.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64url(signature)}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_as_postgres(args, **kwargs):
    """PgBouncer refuses to run as root, and Citus's servers belong to postgres."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.Popen(args, **kwargs)


# psql quiet about notices (Citus explains at length that CREATE DATABASE is not propagated).
os.environ["PGOPTIONS"] = "-c client_min_messages=warning"


def psql_json(url, sql):
    out = subprocess.run(["psql", "-X", "-Atq", url, "-c", sql], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip() or "null")


def wait_until(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    fail(f"timed out waiting for {what}")


def http_status(port, path="/health"):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None


# --- the components -------------------------------------------------------------------------


class Instance:
    """One process of the service on a fixed port (a restart reuses it, as a supervisor would)."""

    def __init__(self, name, database_url, workdir):
        self.name = name
        self.port = free_port()
        self.database_url = database_url
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.process = None

    def start(self):
        env = {
            "PATH": os.environ.get("PATH", ""),
            "BETTER_AUTH_SECRET": SECRET,
            "DATABASE_URL": self.database_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_FORMAT": "json",
            "RUST_LOG": "warn,todo_api::startup=info,todo_api::db=info",
            # PgBouncer 1.18 in transaction mode keeps no prepared statements across transactions.
            "DB_STATEMENT_CACHE": "false",
            "DB_MAX_CONNECTIONS": "10",
            "SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS),
            "SHUTDOWN_GRACE_SECONDS": "10",
        }
        log = open(self.log_path, "a")
        self.process = subprocess.Popen([BIN], env=env, stdout=subprocess.DEVNULL, stderr=log, cwd=tempfile.gettempdir())

    def healthy(self):
        return http_status(self.port) == 200

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        if code != 0:
            fail(f"{self.name} exited {code} after SIGTERM (log: {self.log_path})")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


class PgBouncer:
    def __init__(self, workdir, host, port, dbname, tls):
        self.port = free_port()
        self.dir = os.path.join(workdir, "pgbouncer")
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "userlist.txt"), "w") as users:
            users.write('"postgres" ""\n')
        config = os.path.join(self.dir, "pgbouncer.ini")
        with open(config, "w") as ini:
            ini.write(
                f"""[databases]
todo = host={host} port={port} dbname={dbname} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir}/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
server_tls_sslmode = {"require" if tls else "disable"}
logfile = {self.dir}/pgbouncer.log
"""
            )
        if os.geteuid() == 0:
            for path in [self.dir] + [os.path.join(self.dir, name) for name in os.listdir(self.dir)]:
                shutil.chown(path, "postgres", "postgres")
        self.process = run_as_postgres(["pgbouncer", config], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until(self.listening, 10, "PgBouncer")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/todo"

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class HAProxy:
    def __init__(self, workdir, instances):
        self.port = free_port()
        self.socket_path = os.path.join(workdir, "haproxy.sock")
        config = os.path.join(workdir, "haproxy.cfg")
        servers = "\n".join(
            f"    server {i.name} 127.0.0.1:{i.port} check inter {CHECK_INTERVAL_MS}ms fall {CHECK_FALL} rise 2" for i in instances
        )
        with open(config, "w") as cfg:
            cfg.write(
                f"""global
    maxconn 2000
    stats socket {self.socket_path} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check {CHECK_TIMEOUT_S}s
    # A connection that fails to open is retried on another instance: nothing was sent yet.
    retries 3
    option redispatch 1

frontend api
    bind 127.0.0.1:{self.port}
    default_backend instances

backend instances
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
{servers}
"""
            )
        subprocess.run(["haproxy", "-c", "-q", "-f", config], check=True)
        self.process = subprocess.Popen(["haproxy", "-f", config, "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def server_states(self):
        """Instance name -> UP/DOWN/…, from HAProxy's runtime API."""
        return {name: row.get("status", "") for name, row in self.server_rows().items()}

    def server_rows(self):
        """Instance name -> its row of `show stat` (status, check_status, check_duration, …)."""
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(self.socket_path)
                s.sendall(b"show stat\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
        except OSError:
            return {}
        lines = data.decode().splitlines()
        if not lines:
            return {}
        header = lines[0].lstrip("# ").split(",")
        rows = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "instances" and row.get("svname") not in ("BACKEND", None):
                rows[row["svname"]] = row
        return rows

    def wait_up(self, names, seconds=30):
        wait_until(lambda: all(self.server_states().get(n) == "UP" for n in names), seconds, f"HAProxy to see {names} UP")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class CheckLog(threading.Thread):
    """What HAProxy's health checks saw during a run: every change of an instance's state or check
    result, and the slowest check of each. Printed when a run breaks, to tell a failing instance
    from a check that gave up on a healthy one."""

    def __init__(self, haproxy, started):
        super().__init__(daemon=True)
        self.haproxy, self.started = haproxy, started
        self.changes = []  # (seconds into the run, instance, status, check status, check ms)
        self.slowest_ms = collections.Counter()
        self.done = threading.Event()

    def run(self):
        last = {}
        while not self.done.wait(0.02):
            for name, row in self.haproxy.server_rows().items():
                # "* L7OK" is a check in progress; its result follows.
                check = row.get("check_status", "").lstrip("* ")
                ms = int(row["check_duration"]) if row.get("check_duration", "").isdigit() else 0
                self.slowest_ms[name] = max(self.slowest_ms[name], ms)
                state = (row.get("status", ""), check)
                if last.get(name) != state:
                    last[name] = state
                    self.changes.append((round(time.monotonic() - self.started, 2), name, *state, ms))

    def stop(self):
        self.done.set()
        self.join()


# --- the load and its ledger ----------------------------------------------------------------


class Failure(Exception):
    pass


class User(threading.Thread):
    """One user calling in order, keeping the ledger of what the service acknowledged."""

    def __init__(self, index, port, stop_at, peers, peers_lock, log):
        super().__init__(daemon=True)
        self.user = f"scale-user-{index:03d}-{os.urandom(3).hex()}"
        self.token = mint(self.user)
        self.port = port
        self.stop_at = stop_at
        self.peers = peers  # shared: (user, id) of the tasks every user created
        self.peers_lock = peers_lock
        self.log = log
        self.random = random.Random(index)
        self.conn = None
        self.serial = 0
        # id -> {"title", "completed", "marker"}; acknowledged state.
        self.tasks = {}
        # Outcomes a failed request leaves open: id -> list of acceptable (title, completed) or None (gone).
        self.uncertain = {}
        self.created_markers = set()  # acknowledged creates
        self.maybe_created_markers = set()  # failed creates: at most one row each
        self.deleted = set()
        self.requests = 0
        self.violations = []

    # One request; returns (status, body or None). Raises Failure on a transport error or a 5xx.
    def call(self, method, path, body=None):
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {self.token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        self.requests += 1
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, payload, headers)
            response = self.conn.getresponse()
            data = response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
        except (OSError, http.client.HTTPException) as err:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            self.log(started, time.monotonic(), "connection", method, f"{type(err).__name__}")
            raise Failure() from err
        if response.status >= 500:
            self.log(started, time.monotonic(), f"http {response.status}", method, data[:120].decode(errors="replace"))
            raise Failure()
        parsed = json.loads(data) if data else None
        self.check_owner(parsed)
        return response.status, parsed

    def check_owner(self, parsed):
        items = parsed if isinstance(parsed, list) else [parsed] if isinstance(parsed, dict) else []
        for item in items:
            if isinstance(item, dict) and "user_id" in item and item["user_id"] != self.user:
                self.violations.append(f"{self.user} received {item['user_id']}'s task {item.get('id')}")

    def expect(self, condition, message):
        if not condition:
            self.violations.append(f"{self.user}: {message}")

    def certain_ids(self):
        return [i for i in self.tasks if i not in self.uncertain]

    def run(self):
        while time.monotonic() < self.stop_at:
            live = self.certain_ids()
            roll = self.random.random()
            try:
                if not live or (roll < 0.30 and len(self.tasks) < MAX_LIVE_TASKS):
                    self.create()
                elif roll < 0.45:
                    self.rename(self.random.choice(live))
                elif roll < 0.60:
                    self.toggle(self.random.choice(live))
                elif roll < 0.70 or len(self.tasks) >= MAX_LIVE_TASKS:
                    self.delete(self.random.choice(live))
                elif roll < 0.85:
                    self.list()
                elif roll < 0.95:
                    self.get(self.random.choice(live))
                else:
                    self.read_foreign()
            except Failure:
                pass
        if self.conn is not None:
            self.conn.close()

    def create(self):
        self.serial += 1
        marker = f"{self.user}/{self.serial}"
        title = f"task {self.serial}"
        try:
            status, body = self.call("POST", "/api/tasks", {"title": title, "description": marker})
        except Failure:
            self.maybe_created_markers.add(marker)
            raise
        self.expect(status == 201, f"create answered {status}")
        if status == 201:
            self.expect(body["title"] == title and body["description"] == marker, f"create answered {body}")
            self.tasks[body["id"]] = {"title": title, "completed": False, "marker": marker}
            self.created_markers.add(marker)
            with self.peers_lock:
                self.peers.append((self.user, body["id"]))

    def rename(self, task_id):
        task = self.tasks[task_id]
        new_title = f"renamed {self.serial}-{self.random.randrange(1_000_000)}"
        try:
            status, body = self.call("PUT", f"/api/tasks/{task_id}", {"title": new_title})
        except Failure:
            self.uncertain[task_id] = [(task["title"], task["completed"]), (new_title, task["completed"])]
            raise
        self.expect(status == 200 and body["title"] == new_title, f"rename of {task_id} answered {status} {body}")
        task["title"] = new_title

    def toggle(self, task_id):
        task = self.tasks[task_id]
        try:
            status, body = self.call("PATCH", f"/api/tasks/{task_id}/complete")
        except Failure:
            self.uncertain[task_id] = [(task["title"], task["completed"]), (task["title"], not task["completed"])]
            raise
        self.expect(
            status == 200 and body["completed"] == (not task["completed"]),
            f"toggle of {task_id} (was {task['completed']}) answered {status} {body}",
        )
        task["completed"] = not task["completed"]

    def delete(self, task_id):
        task = self.tasks[task_id]
        try:
            status, _ = self.call("DELETE", f"/api/tasks/{task_id}")
        except Failure:
            self.uncertain[task_id] = [(task["title"], task["completed"]), None]
            raise
        self.expect(status == 200, f"delete of {task_id} answered {status}")
        del self.tasks[task_id]
        self.deleted.add(task_id)

    def list(self):
        status, body = self.call("GET", "/api/tasks")
        self.expect(status == 200, f"list answered {status}")
        seen = {item["id"]: item for item in body}
        for task_id in self.certain_ids():
            item = seen.get(task_id)
            task = self.tasks[task_id]
            self.expect(
                item is not None and item["title"] == task["title"] and item["completed"] == task["completed"],
                f"list shows {item} for {task_id}, the ledger {task}",
            )
        for task_id in seen:
            self.expect(task_id not in self.deleted, f"list shows deleted task {task_id}")

    def get(self, task_id):
        status, body = self.call("GET", f"/api/tasks/{task_id}")
        task = self.tasks[task_id]
        self.expect(
            status == 200 and body["title"] == task["title"] and body["completed"] == task["completed"],
            f"get of {task_id} answered {status} {body}, the ledger {task}",
        )

    def read_foreign(self):
        with self.peers_lock:
            others = [p for p in self.peers[-200:] if p[0] != self.user]
        if not others:
            return
        _, task_id = self.random.choice(others)
        status, body = self.call("GET", f"/api/tasks/{task_id}")
        self.expect(status == 404, f"another user's task {task_id} answered {status} {body}")


def verify_database(database_url, users):
    """The database against the ledgers; returns the list of broken rules."""
    rows = psql_json(
        database_url,
        "SELECT coalesce(json_agg(json_build_object('id', id, 'user_id', user_id, 'title', title, "
        "'description', description, 'completed', completed, 'completed_at', completed_at, "
        "'title_folded', title_folded, 'ok_times', updated_at >= created_at)), '[]') FROM tasks",
    )
    by_user = collections.defaultdict(list)
    for row in rows:
        by_user[row["user_id"]].append(row)
    known = {u.user for u in users}
    problems = [f"row of an unknown user: {r}" for r in rows if r["user_id"] not in known]
    for user in users:
        mine = by_user.get(user.user, [])
        by_id = {r["id"]: r for r in mine}
        markers = collections.Counter(r["description"] for r in mine)
        for row in mine:
            if row["completed"] != (row["completed_at"] is not None):
                problems.append(f"half-written completion: {row}")
            if row["title_folded"] != row["title"].lower():
                problems.append(f"half-written search copy: {row}")
            if not row["ok_times"]:
                problems.append(f"updated before created: {row}")
        for marker, count in markers.items():
            if count > 1:
                problems.append(f"{user.user}: {count} rows for one create ({marker})")
            if marker not in user.created_markers and marker not in user.maybe_created_markers:
                problems.append(f"{user.user}: a row no request created ({marker})")
        for task_id, task in user.tasks.items():
            row = by_id.get(task_id)
            if task_id in user.uncertain:
                outcomes = user.uncertain[task_id]
                actual = None if row is None else (row["title"], row["completed"])
                if actual not in outcomes:
                    problems.append(f"{user.user}: failed request on {task_id} left {actual}, expected one of {outcomes}")
            elif row is None:
                problems.append(f"{user.user}: acknowledged task {task_id} is missing")
            elif (row["title"], row["completed"]) != (task["title"], task["completed"]):
                problems.append(f"{user.user}: task {task_id} is {row['title']!r}/{row['completed']}, acknowledged {task}")
        for task_id in user.deleted:
            if task_id in by_id:
                problems.append(f"{user.user}: acknowledged delete of {task_id}, the row is still there")
        problems.extend(user.violations)
    return problems, len(rows)


class Run:
    """One topology under the load, with its fault schedule and its verdict."""

    def __init__(self, name, seconds, users, port, faults):
        self.name, self.seconds, self.user_count, self.port, self.faults = name, seconds, users, port, faults
        self.failures = []  # (start, end, kind, method, detail)
        self.events = {}
        self.lock = threading.Lock()

    def log(self, start, end, kind, method, detail):
        with self.lock:
            self.failures.append((start, end, kind, method, detail))

    def drive(self, instances=None, haproxy=None):
        started = time.monotonic()
        stop_at = started + self.seconds
        peers, peers_lock = [], threading.Lock()
        users = [User(i, self.port, stop_at, peers, peers_lock, self.log) for i in range(self.user_count)]
        for user in users:
            user.start()
        checks = None
        if haproxy:
            checks = CheckLog(haproxy, started)
            checks.start()
        if self.faults:
            self.run_faults(started, instances, haproxy)
        for user in users:
            user.join()
        if checks:
            checks.stop()
            self.checks = checks
        elapsed = time.monotonic() - started
        self.users = users
        self.elapsed = elapsed
        self.started = started
        return users

    def run_faults(self, started, instances, haproxy):
        def at(fraction):
            delay = started + self.seconds * fraction - time.monotonic()
            if delay > 0:
                time.sleep(delay)

        at(0.20)
        victim = instances[0]
        self.events["kill"] = time.monotonic()
        victim.kill()
        print(f"  {self.name}: SIGKILL {victim.name} at {self.events['kill'] - started:.1f} s")
        at(0.27)
        victim.start()
        wait_until(victim.healthy, 30, f"{victim.name} to come back")
        haproxy.wait_up([victim.name])
        self.events["killed_back"] = time.monotonic()
        at(0.40)
        self.events["rolling_start"] = time.monotonic()
        for instance in instances:
            instance.terminate()
            instance.start()
            wait_until(instance.healthy, 30, f"{instance.name} to restart")
            haproxy.wait_up([instance.name])
        self.events["rolling_end"] = time.monotonic()
        print(
            f"  {self.name}: rolling SIGTERM restart of {len(instances)} instances from "
            f"{self.events['rolling_start'] - started:.1f} s to {self.events['rolling_end'] - started:.1f} s"
        )
        if self.events["rolling_end"] > started + self.seconds - 2:
            fail(f"{self.name}: the rolling restart did not finish inside the run; make the run longer")

    def classify(self):
        """Failures by cause: the SIGKILL window may fail requests, nothing else may."""
        by_kind = collections.Counter()
        unexplained = []
        kill = self.events.get("kill")
        for start, end, kind, method, detail in self.failures:
            by_kind[kind] += 1
            in_flight_at_kill = kill is not None and start <= kill + KILL_WINDOW_SECONDS and end >= kill
            if not in_flight_at_kill:
                unexplained.append((round(start - self.started, 2), kind, method, detail))
        return by_kind, unexplained

    def capacity(self, seconds):
        """What the topology serves when the client is not the limit: wrk, 64 connections, reading
        one task (the ledger's load is ordered Python calls, which cap lower)."""
        user = next(u for u in self.users if u.certain_ids())
        task_id = user.certain_ids()[0]
        out = subprocess.run(
            ["wrk", "-t2", "-c64", f"-d{seconds}s", "-H", f"Authorization: Bearer {user.token}",
             f"http://127.0.0.1:{self.port}/api/tasks/{task_id}"],
            capture_output=True, text=True, check=True,
        ).stdout
        rate = next(float(line.split()[1]) for line in out.splitlines() if line.startswith("Requests/sec:"))
        errors = sum(int(line.split()[-1]) for line in out.splitlines() if "Non-2xx" in line or line.strip().startswith("Socket errors"))
        self.wrk = {"get_req_per_s": round(rate), "errors": errors}

    def report(self, database_url):
        problems, rows = verify_database(database_url, self.users)
        by_kind, unexplained = self.classify()
        requests = sum(u.requests for u in self.users)
        steady_end = self.events.get("kill", self.started + self.elapsed)
        summary = {
            "run": self.name,
            "seconds": round(self.elapsed, 1),
            "users": self.user_count,
            "requests": requests,
            "req_per_s": round(requests / self.elapsed),
            "failures": sum(by_kind.values()),
            "failures_by_kind": dict(by_kind),
            "failures_outside_the_kill": unexplained[:20],
            "rows_checked": rows,
            "ledger_problems": problems[:20],
            "events_s": {k: round(v - self.started, 2) for k, v in self.events.items()},
            "steady_seconds": round(steady_end - self.started, 1),
            "wrk": getattr(self, "wrk", None),
        }
        checks = getattr(self, "checks", None)
        if checks:
            summary["slowest_check_ms"] = dict(checks.slowest_ms)
            summary["check_changes"] = checks.changes
        if self.faults:
            summary["failures_in_rolling_restart"] = sum(
                1
                for start, end, *_ in self.failures
                if end >= self.events["rolling_start"] and start <= self.events["rolling_end"]
            )
        wrk_errors = summary["wrk"]["errors"] if summary["wrk"] else 0
        summary["ok"] = not problems and not unexplained and not wrk_errors
        return summary


# --- topologies -----------------------------------------------------------------------------


def fresh_database(admin_url, tag):
    name = f"todo_scale_{tag}_{os.urandom(4).hex()}"
    subprocess.run(["psql", "-X", "-q", admin_url, "-c", f"CREATE DATABASE {name}"], check=True)
    return name


def drop_database(admin_url, name):
    subprocess.run(["psql", "-X", "-q", admin_url, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)


def with_database(url, name):
    base, _, query = url.partition("?")
    scheme, rest = base.split("://", 1)
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{name}" + (f"?{query}" if query else "")


def run_direct(args, workdir):
    name = fresh_database(ADMIN_URL, "direct")
    try:
        url = with_database(ADMIN_URL, name)
        instance = Instance("direct", url, workdir)
        instance.start()
        wait_until(instance.healthy, 60, "the instance")
        run = Run("direct", args.direct_seconds, args.users, instance.port, faults=False)
        run.drive()
        run.capacity(args.wrk_seconds)
        instance.stop()
        return run.report(url)
    finally:
        drop_database(ADMIN_URL, name)


def run_scaled(args, workdir, label, host, port, dbname, direct_url, tls):
    bouncer = PgBouncer(workdir, host, port, dbname, tls)
    instances = [Instance(f"{label}{i + 1}", bouncer.url, workdir) for i in range(INSTANCES)]
    haproxy = None
    try:
        # All three at the same moment, on an empty database: they migrate one after another.
        for instance in instances:
            instance.start()
        wait_until(lambda: all(i.healthy() for i in instances), 90, "three instances")
        haproxy = HAProxy(workdir, instances)
        haproxy.wait_up([i.name for i in instances])
        migrations = psql_json(direct_url, "SELECT count(*) FROM seaql_migrations")
        print(f"  {label}: 3 instances started together on an empty database; {migrations} migrations applied once")
        run = Run(label, args.seconds, args.users, haproxy.port, faults=True)
        run.drive(instances, haproxy)
        run.capacity(args.wrk_seconds)
        summary = run.report(direct_url)
        summary["migrations_applied"] = migrations
        return summary
    finally:
        for instance in instances:
            instance.stop()
        if haproxy:
            haproxy.stop()
        bouncer.stop()


def run_pooled(args, workdir):
    name = fresh_database(ADMIN_URL, "pooled")
    try:
        os.makedirs(os.path.join(workdir, "pooled"))
        return run_scaled(
            args, os.path.join(workdir, "pooled"), "pooled", "127.0.0.1", 5432, name, with_database(ADMIN_URL, name), tls=False
        )
    finally:
        drop_database(ADMIN_URL, name)


def run_citus(args, workdir):
    cluster = os.path.join(tempfile.gettempdir(), f"todo-scale-citus-{os.getpid()}")
    started = subprocess.run(["bash", CLUSTER, "start", cluster])
    if started.returncode != 0:
        fail("the Citus cluster did not start (is Citus installed? ../shared/vendor/build-citus.sh)")
    try:
        env = dict(line.split("=", 1) for line in open(os.path.join(cluster, "env")).read().split())
        coordinator_admin = env["CITUS_COORDINATOR_URL"]
        workers = env["CITUS_WORKERS"].split(",")
        name = f"todo_scale_citus_{os.urandom(4).hex()}"
        # Each database is a Citus cluster of its own: on every node, with the extension.
        for address in [coordinator_admin.split("@")[1].split("/")[0]] + workers:
            url = f"postgres://postgres@{address}/postgres?sslmode=require"
            subprocess.run(["psql", "-X", "-q", url, "-c", f"CREATE DATABASE {name}"], check=True)
            subprocess.run(["psql", "-X", "-q", with_database(url, name), "-c", "CREATE EXTENSION citus"], check=True)
        direct_url = with_database(coordinator_admin, name)
        host, port = coordinator_admin.split("@")[1].split("/")[0].split(":")
        subprocess.run(
            ["psql", "-X", "-q", direct_url, "-c", f"SELECT citus_set_coordinator_host('{host}', {port})"]
            + sum((["-c", f"SELECT citus_add_node('{w.split(':')[0]}', {w.split(':')[1]})"] for w in workers), []),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        os.makedirs(os.path.join(workdir, "citus"))
        summary = run_scaled(args, os.path.join(workdir, "citus"), "citus", host, int(port), name, direct_url, tls=True)
        distributed = psql_json(
            direct_url,
            "SELECT json_build_object('column', column_to_column_name(logicalrelid, partkey), "
            "'shards', (SELECT count(*) FROM pg_dist_shard s WHERE s.logicalrelid = p.logicalrelid), "
            "'workers_with_rows', (SELECT count(DISTINCT nodename || nodeport) FROM citus_shards c "
            "WHERE c.table_name = p.logicalrelid AND c.shard_size > 0)) "
            "FROM pg_dist_partition p WHERE logicalrelid = 'tasks'::regclass",
        )
        summary["distribution"] = distributed
        if not distributed or distributed.get("column") != "user_id":
            summary["ok"] = False
            summary["ledger_problems"].append(f"tasks is not distributed by user_id: {distributed}")
        return summary
    finally:
        subprocess.run(["bash", CLUSTER, "stop", cluster], check=False)


def ensure_tools(want_citus):
    tools = ("haproxy", "pgbouncer", "psql", "wrk")
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        print(f"installing {' '.join(missing)} (Debian packages)")
        subprocess.run(["apt-get", "install", "-y", "-qq", "haproxy", "pgbouncer", "wrk"], check=False, stdout=subprocess.DEVNULL)
        missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        fail(f"missing: {', '.join(missing)} (apt-get install haproxy pgbouncer wrk postgresql-client)")
    if subprocess.run(["pg_isready", "-q", "-d", ADMIN_URL]).returncode != 0:
        fail(f"PostgreSQL does not answer at {ADMIN_URL}")
    if want_citus:
        pkglib = subprocess.run(
            ["/usr/lib/postgresql/15/bin/pg_config", "--pkglibdir"], capture_output=True, text=True
        ).stdout.strip()
        if not os.path.exists(os.path.join(pkglib, "citus.so")):
            fail("Citus is not installed into PostgreSQL 15 (bash ../shared/vendor/build-citus.sh)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of each faulted run (default 60)")
    parser.add_argument("--direct-seconds", type=float, default=20, help="length of the direct run (default 20)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--wrk-seconds", type=int, default=10, help="length of the wrk capacity run after each load")
    parser.add_argument("--smoke", action="store_true", help="CI: 30 s faulted runs, 10 s direct")
    parser.add_argument("--only", choices=["direct", "pooled", "citus"], action="append", help="run only these")
    parser.add_argument("--no-build", action="store_true", help="use the release binary as it is")
    parser.add_argument("--binary", help="run this build of the service instead (implies --no-build)")
    args = parser.parse_args()
    global BIN
    if args.binary:
        BIN, args.no_build = os.path.abspath(args.binary), True
    if args.smoke:
        args.seconds, args.direct_seconds, args.wrk_seconds = 30, 10, 3
    runs = args.only or ["direct", "pooled", "citus"]
    ensure_tools("citus" in runs)
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    workdir = tempfile.mkdtemp(prefix="todo-scale-")
    os.chmod(workdir, 0o755)
    results = []
    try:
        for name in runs:
            print(f"{name}: {args.users} users, {args.direct_seconds if name == 'direct' else args.seconds:.0f} s")
            results.append({"direct": run_direct, "pooled": run_pooled, "citus": run_citus}[name](args, workdir))
    finally:
        if os.environ.get("SCALE_KEEP"):
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(f"{'run':<8} {'req/s':>7} {'requests':>9} {'failed':>7} {'in rolling restart':>19} {'wrk get req/s':>14}  verdict")
    for r in results:
        rolling = r.get("failures_in_rolling_restart", "-")
        wrk = r["wrk"]["get_req_per_s"] if r.get("wrk") else "-"
        print(
            f"{r['run']:<8} {r['req_per_s']:>7} {r['requests']:>9} {r['failures']:>7} {rolling!s:>19} {wrk!s:>14}  "
            f"{'ok' if r['ok'] else 'BROKEN'}"
        )
        if r["failures_by_kind"]:
            print(f"         failures by kind: {r['failures_by_kind']}")
        for problem in r["ledger_problems"]:
            print(f"         ledger: {problem}")
        for failure in r["failures_outside_the_kill"]:
            print(f"         failure outside the SIGKILL window: {failure}")
        if not r["ok"] and r.get("check_changes"):
            print(f"         HAProxy's checks (s, instance, state, check, ms); slowest: {r['slowest_check_ms']}")
            for change in r["check_changes"][:60]:
                print(f"           {change}")
        if "distribution" in r:
            print(f"         distribution: {r['distribution']}")
    os.makedirs(OUT_DIR, exist_ok=True)
    out = os.path.join(OUT_DIR, datetime.datetime.now().strftime("scale-%Y%m%d-%H%M%S.json"))
    with open(out, "w") as f:
        json.dump({"users": args.users, "runs": results}, f, indent=2)
    print(f"\nwritten to {os.path.relpath(out, ROOT)}")
    if not all(r["ok"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
