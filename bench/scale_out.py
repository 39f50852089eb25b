"""Benchmark: scale-out on PostgreSQL. A) 1 gunicorn instance + 1 `flask worker`; B) 2 gunicorn instances
behind nginx + 2 workers; booking page requests/s and enrolment throughput, and B/A, in one run.

    .venv/bin/python bench/scale_out.py [--contacts 2000] [--seconds 10] [--connections 16]
                                        [--web-workers 1] [--pg-url postgresql+psycopg://…]
                                        [--redis-url redis://127.0.0.1:6379/2]

For each setup, on a fresh PostgreSQL database (--pg-url's, dropped and created with psql):

1. Enrolments: --contacts contacts are tagged `book-me` in one transaction, entering the published demo
   workflow (Generate One-Time Booking Link → Send Email), with 1 (A) or 2 (B) real `flask --app wsgi
   worker` processes running and sending to an aiosmtpd sink in a process of its own; timed from the
   commit (every enrolment due at once: the workers' speed, not the tagging's) until the sink has every
   email, then checked: each contact exactly one link, one sent message, one email received
   (bench/workflow_throughput.py's run and checks, reused). The CPU the workers used and how busy the
   machine was are read from /proc and printed with it.
2. The web: 1 (A) or 2 (B) gunicorn instances (--web-workers processes each, default 1, so that B has
   twice A's processes; see bench/README.md) on loopback ports, with TRUSTED_PROXIES=1, behind Debian's
   nginx (plain HTTP on loopback, an upstream holding every instance, the shipped
   deploy/nginx/oneslot-proxy.conf included), so both setups pay the same proxy.
   a) Rate limits in Redis (--redis-url, database 2: flushed before, the bench's own): 61 GETs of a
      feed limited to 60 a minute through nginx, which spreads them over the instances; the 61st must
      be refused (429), which holds only if the instances share one count.
   b) The instances restarted with RATELIMIT_ENABLED=false (wrk's 16 connections come from one
      address, which the 120/minute limit of the booking page would stop at once), then `wrk` loads
      the booking page of bench/booking_page.py's one-host calendar through nginx for --seconds.

A runs again after B (A'), and B is compared to the mean of A and A': on a machine shared with other
work the speed drifts over minutes (bench/workflow_throughput.py does the same). Prints each figure
and the ratios B/A. Needs nginx (scripts/ensure-nginx.sh), wrk (apt-get install wrk),
PostgreSQL and Redis on loopback. A default run takes about two and a half minutes.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import booking_page  # noqa: E402  (the booking page's data and wrk)
import workflow_throughput as throughput  # noqa: E402  (the SMTP sink, workers, tagging, the checks)

from tests import nginx as nginx_config  # noqa: E402  (nginx's own config around the site, shared with the test behind nginx)

NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")
SNIPPET = ROOT / "deploy" / "nginx" / "oneslot-proxy.conf"
FEED = "/feeds/hosts/no-such-feed.ics"  # limited to 60 a minute per client; 404 for this token


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{log.name} did not start:\n{log.read_text(errors='replace')[-2000:]}") from None
            time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


class Web:
    """`instances` gunicorn instances on loopback behind one nginx; `base` is nginx's address."""

    def __init__(self, instances: int, web_workers: int, env: dict, folder: Path):
        self.folder, self.env, self.web_workers = folder, env, web_workers
        self.ports = [throughput.free_port() for _ in range(instances)]
        self.servers: list[subprocess.Popen] = []
        self.nginx_port = throughput.free_port()
        self.base = f"http://127.0.0.1:{self.nginx_port}"
        self.nginx = self._start_nginx()

    def start_apps(self, **settings: str) -> None:
        self.stop_apps()
        env = {**self.env, **settings}
        gunicorn = Path(sys.executable).with_name("gunicorn")
        for n, port in enumerate(self.ports):
            log = self.folder / f"gunicorn-{n}.log"
            with log.open("ab") as out:
                self.servers.append(
                    subprocess.Popen(
                        [gunicorn, "-w", str(self.web_workers), "-b", f"127.0.0.1:{port}", "wsgi:app"],
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        for n, (server, port) in enumerate(zip(self.servers, self.ports)):
            wait_for(f"http://127.0.0.1:{port}/healthz", server, self.folder / f"gunicorn-{n}.log")

    def stop_apps(self) -> None:
        for server in self.servers:
            stop(server)
        self.servers = []

    def _start_nginx(self) -> subprocess.Popen:
        folder = self.folder
        upstream = "".join(f"        server 127.0.0.1:{port};\n" for port in self.ports)
        config = nginx_config.main_config(
            folder,
            f"""    access_log off;
    upstream oneslot {{
{upstream}        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{self.nginx_port};
        location / {{
            include {SNIPPET};
            proxy_pass http://oneslot;
        }}
    }}
""",
        )
        log = folder / "error.log"
        nginx = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(config), "-e", str(log)])
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.nginx_port), timeout=1).close()
                return nginx
            except OSError:
                if nginx.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start:\n{log.read_text() if log.exists() else ''}") from None
                time.sleep(0.1)

    def close(self) -> None:
        self.stop_apps()
        stop(self.nginx)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (Linux's /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, every core added up."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK"), sum(values) / os.sysconf("SC_CLK_TCK")


def children(parents: list[int]) -> list[int]:
    """The processes whose parent is one of `parents` (gunicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        if ppid in parents:
            found.append(int(stat.parent.name))
    return found


class WorkersCPU:
    """The CPU the `flask worker` processes of one enrolment run used, and how busy the machine was,
    from their start to their stop: workflow_throughput.run starts and stops them itself, so its two
    functions are wrapped for the run."""

    def __init__(self):
        self.start, self.stop = throughput.start_workers, throughput.stop_workers
        self.cores = self.busy = 0.0

    def __enter__(self):
        def start(*args, **kwargs):
            workers = self.start(*args, **kwargs)
            self.pids = [process.pid for process, _log in workers]
            self.before = cpu_seconds(self.pids), machine_busy()
            return workers

        def stop(workers):
            (cpu, (busy, total)), after = self.before, (cpu_seconds(self.pids), machine_busy())
            span = (after[1][1] - total) or 1.0
            self.cores = (after[0] - cpu) / (span / (os.cpu_count() or 1))
            self.busy = (after[1][0] - busy) / span
            self.stop(workers)

        throughput.start_workers, throughput.stop_workers = start, stop
        return self

    def __exit__(self, *exc):
        throughput.start_workers, throughput.stop_workers = self.start, self.stop


def shared_limit(base: str) -> list[int]:
    """The statuses of 61 GETs of the feed (60 a minute) through nginx."""
    statuses = []
    for _ in range(61):
        try:
            urllib.request.urlopen(base + FEED, timeout=10).close()
            statuses.append(200)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
    return statuses


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def one_setup(label: str, instances: int, workers: int, args, sink, smtp_port: int) -> dict:
    """Enrolments, then the shared rate limit, then the booking page, on a fresh database."""
    from sqlalchemy.engine import make_url

    pg_url = make_url(args.pg_url)
    throughput.fresh_pg(pg_url)
    db_url = pg_url.render_as_string(hide_password=False)
    throughput.TAG_BATCH = args.contacts  # one commit: every enrolment due at once
    with WorkersCPU() as used:
        enrolment = throughput.run(
            f"{label}, {workers} worker(s)", db_url, workers, args.contacts, sink, smtp_port, 600
        )
    enrolment["rate"] = enrolment["rate_after_commit"]
    print(
        f"  enrolments: tagged in {enrolment['tag_seconds']:.1f} s, then {args.contacts} mailed in "
        f"{enrolment['after_commit'] or float('nan'):.1f} s, {enrolment['rate']:.1f}/s; the workers used "
        f"{used.cores:.2f} cores, the machine was {used.busy:.0%} busy; "
        f"one link + one mail each: {'OK' if not enrolment['problems'] else 'MISSED'}"
        + ("" if not enrolment["problems"] else " (" + "; ".join(enrolment["problems"]) + ")")
    )
    sys.stdout.flush()

    path, _team_path = booking_page.setup(db_url, throughput.SECRET)
    folder = Path(tempfile.mkdtemp(prefix="oneslot-scale-out-"))
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SECRET_KEY": throughput.SECRET,
        "BASE_URL": "http://127.0.0.1",
        "TRUSTED_PROXIES": "1",
        "RATELIMIT_STORAGE_URI": args.redis_url,
    }
    web = Web(instances, args.web_workers, env, folder)
    try:
        flush_redis(args.redis_url)
        web.start_apps(RATELIMIT_ENABLED="true")
        statuses = shared_limit(web.base)
        limit_ok = statuses[:60] == [404] * 60 and statuses[60] == 429
        print(f"  rate limit in Redis through nginx: 60 × 404 then {statuses[60]}: {'OK' if limit_ok else 'MISSED'}")
        web.start_apps(RATELIMIT_ENABLED="false")
        for _ in range(20 * instances * args.web_workers):  # each process computes and caches the page once
            urllib.request.urlopen(web.base + path, timeout=10).close()
        processes = children([server.pid for server in web.servers])
        cpu_before, (busy_before, total_before) = cpu_seconds(processes), machine_busy()
        page = booking_page.wrk(web.base + path, args.seconds, args.connections)
        cpu_after, (busy_after, total_after) = cpu_seconds(processes), machine_busy()
        wall = (total_after - total_before) / (os.cpu_count() or 1)
        page["gunicorn_cores"] = (cpu_after - cpu_before) / wall
        page["machine_busy"] = (busy_after - busy_before) / (total_after - total_before)
        print(
            f"  booking page through nginx: {page['rps']:.0f} req/s, p50 {page['p50']:.1f} ms, "
            f"p99 {page['p99']:.1f} ms, errors {page['errors']}; gunicorn used {page['gunicorn_cores']:.2f} "
            f"cores ({page['rps'] / page['gunicorn_cores']:.0f} req per CPU second), "
            f"the machine was {page['machine_busy']:.0%} busy"
        )
        sys.stdout.flush()
    finally:
        web.close()
        flush_redis(args.redis_url)
        shutil.rmtree(folder, ignore_errors=True)
    return {"enrolment": enrolment, "page": page, "limit_ok": limit_ok}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=10, help="wrk's time on the booking page, per setup")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=1, help="gunicorn worker processes per instance")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/oneslot_scale_out")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/2")
    args = parser.parse_args()
    for tool, hint in ((NGINX, "scripts/ensure-nginx.sh"), ("wrk", "apt-get install wrk")):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed: {hint}")
    from sqlalchemy.engine import make_url

    pg_url = make_url(args.pg_url)
    if why := throughput.pg_reachable(pg_url):
        sys.exit(f"PostgreSQL ({pg_url.render_as_string(hide_password=True)}) cannot be reached: {why}")

    smtp_port = throughput.free_port()
    sink = throughput.Sink(smtp_port)
    results = {}
    started = time.perf_counter()
    try:
        print(
            f"{args.contacts} contacts through the demo workflow; booking page with wrk, {args.connections} "
            f"connections, {args.seconds} s; gunicorn -w {args.web_workers} per instance; "
            f"{os.cpu_count()} CPUs"
        )
        for key, instances, workers in (("A", 1, 1), ("B", 2, 2), ("A'", 1, 1)):
            print(f"{key}) {instances} gunicorn instance(s) behind nginx + {workers} flask worker(s)")
            sys.stdout.flush()
            results[key] = one_setup(key, instances, workers, args, sink, smtp_port)
    finally:
        sink.stop()
        throughput.psql(pg_url, f'DROP DATABASE IF EXISTS "{pg_url.database}" WITH (FORCE)')

    a, b, again = results["A"], results["B"], results["A'"]
    page_a = (a["page"]["rps"] + again["page"]["rps"]) / 2
    rate_a = (a["enrolment"]["rate"] + again["enrolment"]["rate"]) / 2
    page_ratio = b["page"]["rps"] / page_a if page_a else 0.0
    enrol_ratio = b["enrolment"]["rate"] / rate_a if rate_a else 0.0
    print()
    print("                     A        A'       B        B / mean(A, A')")
    print(
        f"booking page req/s   {a['page']['rps']:<8.0f} {again['page']['rps']:<8.0f} {b['page']['rps']:<8.0f} "
        f"{page_ratio:.2f}"
    )
    print(
        f"enrolments/s         {a['enrolment']['rate']:<8.1f} {again['enrolment']['rate']:<8.1f} "
        f"{b['enrolment']['rate']:<8.1f} {enrol_ratio:.2f}"
    )
    cores = [result["page"]["gunicorn_cores"] for result in (a, again, b)]
    cores_ratio = cores[2] * 2 / (cores[0] + cores[1]) if cores[0] + cores[1] else 0.0
    print(f"gunicorn's cores      {cores[0]:<8.2f} {cores[1]:<8.2f} {cores[2]:<8.2f} {cores_ratio:.2f}")
    exact = not any(result["enrolment"]["problems"] for result in results.values())
    print(f"exactly one link and one mail per contact in every setup: {'OK' if exact else 'MISSED'}")
    shared = all(result["limit_ok"] for result in results.values())
    print(f"one rate-limit count shared by the instances (Redis): {'OK' if shared else 'MISSED'}")
    print(f"whole run: {time.perf_counter() - started:.0f} s, load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
