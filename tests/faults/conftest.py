"""Disposable services the fault tests kill: a Redis server, a PostgreSQL cluster, Celery workers
run as subprocesses, a slow SMTP server and a slow webhook receiver, each started by the test
that needs it and stopped at its end. The shared PostgreSQL and Redis are never touched, except
the shared PostgreSQL's test database that pytest made (the workers read and write it).
"""

from __future__ import annotations

import email
import email.policy
import glob
import http.server
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)
VENV_BIN = Path(sys.executable).parent
# Seconds after which a message taken by a worker that vanished is delivered again (the
# production value is an hour, sons/settings.py); short here so a test can wait for it.
VISIBILITY_TIMEOUT = 2
WAIT = 60  # the longest any step may take before the test fails

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (the workers share the test database)",
)
needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server to start a disposable Redis"
)
PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
needs_postgres_binaries = pytest.mark.skipif(
    not PG_BIN or os.geteuid() != 0 or shutil.which("runuser") is None,
    reason="needs PostgreSQL's initdb and pg_ctl, run as root (they run as the postgres user)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT) -> object:
    """Polls `condition` until it returns something true; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def process_gone(pid: int) -> bool:
    """Dead, or a zombie not yet reaped: its sockets are closed either way."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def peer_gone(sock: socket.socket) -> bool:
    """The other end closed the connection (its process was killed)."""
    readable, _w, _x = select.select([sock], [], [], 0.2)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


# -- Redis -----------------------------------------------------------------------------------


class RedisServer:
    """A Redis of our own, on a free port, with nothing persisted: killed, it restarts empty."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        log = open(self.workdir / f"redis-{self.starts}.log", "wb")  # noqa: SIM115
        with log:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    str(self.workdir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.ping, f"redis-server on port {self.port}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: what it held in memory (queued and unacknowledged messages) is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


# -- PostgreSQL ------------------------------------------------------------------------------


class PostgresCluster:
    """A PostgreSQL cluster of our own (initdb in a temporary folder owned by `postgres`, trust
    authentication, a free port), to be stopped and started again by the test."""

    def __init__(self):
        self.bin = Path(PG_BIN[-1])
        self.root = Path(tempfile.mkdtemp(prefix="sons-faults-pg-"))
        shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.port = free_port()

    def _run(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            capture_output=True,
            timeout=WAIT,
        )

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        """`pg_ctl stop -m fast`: the sessions are cut, their open transactions rolled back."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        if self.running():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def postgres_cluster():
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


# -- Celery workers as subprocesses ----------------------------------------------------------


def worker_environment(redis: RedisServer, **extra: str) -> dict[str, str]:
    """A worker of the production settings on the test database and on our Redis."""
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "PYTEST"))}
    env.update(
        DJANGO_SETTINGS_MODULE="sons.settings",
        DEBUG="0",
        SECRET_KEY="faults-test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        LOG_JSON="0",
        LOG_LEVEL="INFO",
        DATABASE_URL=(
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        CONN_MAX_AGE="0",
        CELERY_BROKER_URL=f"{redis.url}/0",
        CELERY_RESULT_BACKEND=f"{redis.url}/1",
        CELERY_TASK_ALWAYS_EAGER="0",
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        SITE_URL="http://sons.test",
        EMAIL_URL="consolemail://",
        PYTHONUNBUFFERED="1",
    )
    env.pop("STORAGE_URL", None)
    env.update(extra)
    return env


class Worker:
    """`celery -A sons worker --pool=prefork --concurrency=1` in its own process group, its log
    in a file; `kill_child` kills the pool process running the task, `kill` the whole worker."""

    count = 0

    def __init__(self, env: dict[str, str], workdir: Path):
        Worker.count += 1
        self.name = f"faults{Worker.count}"
        self.env = env
        self.log_path = workdir / f"worker-{self.name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    str(VENV_BIN / "celery"),
                    "-A",
                    "sons",
                    "worker",
                    "--pool=prefork",
                    "--concurrency=1",
                    "-Q",
                    "celery",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"{self.name}@%h",
                    "--include",
                    "tests.faults.worker_hooks",
                ],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: " ready." in self.log(), f"worker {self.name} ready")
        return self

    def log(self) -> str:
        exited = self.process is not None and self.process.poll() is not None
        if exited and " ready." not in self.log_path.read_text(errors="replace"):
            raise AssertionError(f"worker {self.name} died:\n{self.log_path.read_text()}")
        return self.log_path.read_text(errors="replace")

    def children(self) -> list[int]:
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split() if not process_gone(int(pid))]

    def kill_child(self) -> int:
        """SIGKILL to the pool process (the one running the task); the worker itself lives on,
        sees it lost and puts the message back in the queue (task_reject_on_worker_lost)."""
        (child,) = self.children()
        os.kill(child, signal.SIGKILL)
        wait_for(lambda: process_gone(child), f"pool process {child} gone")
        return child

    def kill(self) -> None:
        """SIGKILL to the whole worker, pool process included: nobody acknowledges or rejects
        the message, which Redis keeps aside until the visibility timeout."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=WAIT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def received(self, task: str) -> int:
        """How many times this worker received `task` (first delivery and redeliveries)."""
        return sum(
            1
            for line in self.log().splitlines()
            if f"Task {task}[" in line and line.rstrip().endswith("received")
        )


@pytest.fixture
def workers(tmp_path):
    """Starts workers (`workers(env)`); every one still running is stopped at the end."""
    started: list[Worker] = []

    def start(env: dict[str, str]) -> Worker:
        worker = Worker(env, tmp_path)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
        # On the captured output, shown by pytest when the test failed.
        sys.stdout.write(f"--- log of worker {worker.name} ---\n{worker.log_path.read_text()}\n")


@pytest.fixture
def producer(redis_server, monkeypatch):
    """A Celery client of our Redis, to publish task messages as the web processes do and to
    read results: `producer.send_task("sons.render_order_pdf", args=[order.pk])`. Celery lets
    CELERY_BROKER_URL and CELERY_RESULT_BACKEND in the environment win over the app's own
    configuration: they are removed meanwhile, or the messages would go to the suite's broker."""
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    app = Celery(
        "faults-producer",
        broker=f"{redis_server.url}/0",
        backend=f"{redis_server.url}/1",
        set_as_current=False,
    )
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        broker_connection_retry_on_startup=False,
    )
    yield app
    # The result backend's connections too: a socket left to the garbage collector would warn
    # (ResourceWarning) in whichever test runs next.
    pool = getattr(getattr(app.backend, "client", None), "connection_pool", None)
    if pool is not None:
        pool.disconnect()
    app.close()


@pytest.fixture
def no_tasks_here(monkeypatch):
    """While a test builds its data, the tasks the services schedule after commit are not run
    (nor sent): the test sends the one it means to fault itself, to its own worker."""
    from celery.app.task import Task

    monkeypatch.setattr(Task, "delay", lambda self, *args, **kwargs: None)
    monkeypatch.setattr(Task, "apply_async", lambda self, *args, **kwargs: None)


# -- an SMTP server that holds its answer ----------------------------------------------------


class SmtpSink:
    """Speaks enough SMTP for Django's backend and keeps what it is sent. With `hold="data"`, it
    holds its answer to the first message's data (so the message is not accepted yet); with
    `hold="quit"`, its answer to the first QUIT (the message was accepted); until `release`.
    A message is accepted only if its « 250 » reached a client still connected."""

    def __init__(self, hold: str | None = None):
        self.hold = hold
        self.held = threading.Event()
        self.release = threading.Event()
        self.messages: list[dict] = []
        self.sessions = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # so that `close` ends the accepting thread at once
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closing = False
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def accepted(self, to: str, containing: str = "") -> list[dict]:
        return [
            m for m in self.messages if m["accepted"] and to in m["to"] and containing in m["text"]
        ]

    def _accept(self) -> None:
        while not self._closing:
            try:
                sock, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            thread = threading.Thread(target=self._session, args=(sock,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _hold_here(self, point: str) -> bool:
        with self._lock:
            if self.hold != point or self.held.is_set():
                return False
            self.held.set()
        self.release.wait(WAIT)
        return True

    def _session(self, sock: socket.socket) -> None:
        with self._lock:
            self.sessions += 1
        with sock, sock.makefile("rb") as lines:

            def say(text: str) -> None:
                sock.sendall(text.encode() + b"\r\n")

            try:
                say("220 sink.test ESMTP")
                sender, recipients = "", []
                for raw in lines:
                    command = raw.decode(errors="replace").strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        say("250-sink.test")
                        say("250 8BITMIME")
                    elif verb == "HELO":
                        say("250 sink.test")
                    elif verb == "MAIL":
                        sender, recipients = command[10:], []
                        say("250 OK")
                    elif verb == "RCPT":
                        recipients.append(command[8:].strip("<> "))
                        say("250 OK")
                    elif verb == "DATA":
                        say("354 End data with <CR><LF>.<CR><LF>")
                        data = []
                        for line in lines:
                            if line in (b".\r\n", b".\n"):
                                break
                            data.append(line[1:] if line.startswith(b"..") else line)
                        message = email.message_from_bytes(
                            b"".join(data), policy=email.policy.default
                        )
                        body = message.get_body(("plain",))
                        record = {
                            "from": sender,
                            "to": recipients,
                            "subject": str(message["Subject"]),
                            "text": body.get_content() if body is not None else "",
                            "accepted": False,
                        }
                        with self._lock:
                            self.messages.append(record)
                        if self._hold_here("data") and peer_gone(sock):
                            return  # the client died before the answer: not accepted
                        say("250 OK queued")
                        record["accepted"] = True
                    elif verb == "QUIT":
                        self._hold_here("quit")
                        if not peer_gone(sock):
                            say("221 Bye")
                        return
                    elif verb in ("RSET", "NOOP"):
                        say("250 OK")
                    else:
                        say("502 Command not implemented")
            except OSError:
                return

    def close(self) -> None:
        self._closing = True
        self.release.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()


@pytest.fixture
def smtp_sink():
    """`smtp_sink(hold=...)` starts a sink; all are closed at the end."""
    sinks: list[SmtpSink] = []

    def start(hold: str | None = None) -> SmtpSink:
        sink = SmtpSink(hold)
        sinks.append(sink)
        return sink

    yield start
    for sink in sinks:
        sink.close()


# -- a webhook receiver that holds its first answer ------------------------------------------


class WebhookReceiver:
    """Receives webhook POSTs; with `hold_first`, holds its first answer until `release`; counts
    a delivery as acknowledged only if its 200 reached a sender still connected."""

    def __init__(self, hold_first: bool = True):
        self.held = threading.Event()
        if not hold_first:
            self.held.set()
        self.release = threading.Event()
        self.requests: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                record = {
                    "id": json.loads(body)["id"],
                    "delivery_header": self.headers["X-Sons-Delivery"],
                    "acknowledged": False,
                }
                receiver.requests.append(record)
                if not receiver.held.is_set():
                    receiver.held.set()
                    receiver.release.wait(WAIT)
                    if peer_gone(self.connection):
                        self.close_connection = True
                        return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                record["acknowledged"] = True

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/sons-events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def webhook_receiver():
    """`webhook_receiver(hold_first=...)` starts a receiver; all are closed at the end."""
    receivers: list[WebhookReceiver] = []

    def start(hold_first: bool = True) -> WebhookReceiver:
        receivers.append(WebhookReceiver(hold_first))
        return receivers[-1]

    yield start
    for receiver in receivers:
        receiver.close()
