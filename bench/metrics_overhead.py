"""What /metrics costs the hot path: one observation of the HTTP duration histogram, and the timing hooks
around a request (Flask's request_started / request_finished signals, with and without our receivers),
with values in memory (the development server) and in files (PROMETHEUS_MULTIPROC_DIR: gunicorn and
`flask worker`).

    .venv/bin/python bench/metrics_overhead.py

Each mode runs in its own process: prometheus_client chooses where values live when it is imported.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def per_call_us(fn, number: int) -> float:
    """The best of 5 runs of `number` calls, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def measure() -> None:
    from flask import request_finished, request_started

    from webapp import create_app, metrics
    from webapp.extensions import db

    child = metrics.HTTP_DURATION.labels("booking.page", "GET", "200")
    labelled = per_call_us(lambda: metrics.HTTP_DURATION.labels("booking.page", "GET", "200").observe(0.004), 50_000)
    bare = per_call_us(lambda: child.observe(0.004), 50_000)

    with tempfile.TemporaryDirectory() as folder:
        env = {"SECRET_KEY": "bench-secret-key-0123456789", "DATABASE_URL": f"sqlite:///{folder}/bench.db"}
        app = create_app({"ENV_VARS": env, "INSTANCE_PATH": f"{folder}/instance"})
        response = app.response_class("ok")

        def one_request():
            # What Flask does around every request: the two signals, which our hooks receive.
            request_started.send(app)
            request_finished.send(app, response=response)

        # In a request context that matched the booking page's rule, as a real request would be.
        with app.test_request_context("/book/some-token"):
            with_hooks = per_call_us(one_request, 20_000)
            request_started.disconnect(metrics._request_started, app)
            request_finished.disconnect(metrics._request_finished, app)
            without = per_call_us(one_request, 20_000)
            request_started.connect(metrics._request_started, app)
            request_finished.connect(metrics._request_finished, app)
        with app.app_context():
            db.engine.dispose()

    mode = "files (multiprocess)" if metrics.MULTIPROCESS else "memory (one process)"
    print(f"values in {mode}:")
    print(f"  histogram observe, child kept:     {bare:6.2f} µs")
    print(f"  histogram labels() + observe:      {labelled:6.2f} µs")
    print(f"  a request's signals, with timing:  {with_hooks:6.2f} µs")
    print(f"  a request's signals, without:      {without:6.2f} µs")
    print(f"  the timing hooks' share:           {with_hooks - without:6.2f} µs a request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure()
        return
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    command = [sys.executable, __file__, "--measure"]
    subprocess.run(command, env=env, check=True)
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(command, env={**env, "PROMETHEUS_MULTIPROC_DIR": folder}, check=True)


if __name__ == "__main__":
    main()
