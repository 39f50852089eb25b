"""Time the CSV importer on a generated 10,000-row file (a temporary SQLite database).

Run: .venv/bin/python bench/contacts_import.py [rows]
BENCH_DATABASE_URL=postgresql://… runs it on an (emptied) PostgreSQL database instead.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp import create_app  # noqa: E402
from webapp.contacts import importer  # noqa: E402
from webapp.contacts.models import Contact  # noqa: E402
from webapp.extensions import db  # noqa: E402


def make_csv(rows: int) -> bytes:
    """A file like a CRM export: every column filled, a few shared tags, a handful of bad rows."""
    lines = ["First Name,Last Name,Email,Phone,Tags"]
    for n in range(rows):
        email = f"person{n}@example.com" if n % 1000 else f"broken-{n}-example.com"
        lines.append(f'P{n},Row{n},{email},+1 (555) {n % 10_000:04d},"customer;group-{n % 12};2025"')
    return ("\n".join(lines) + "\n").encode()


def main(rows: int = 10_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "ENV_VARS": {
                    "SECRET_KEY": "bench-secret-key-0123456789",
                    "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.db",
                },
                "INSTANCE_PATH": f"{tmp}/instance",
                "TESTING": True,
            }
        )
        data = make_csv(rows)
        with app.app_context():
            db.drop_all()
            db.create_all()
            print("database:", db.engine.url.get_backend_name())
            statements = 0

            def count(*_args):
                nonlocal statements
                statements += 1

            event.listen(db.engine, "before_cursor_execute", count)
            for label in ("new contacts", "same file again (all updates)"):
                statements = 0
                started = time.perf_counter()
                report = importer.import_csv(data, "bench.csv")
                seconds = time.perf_counter() - started
                print(
                    f"{label}: {rows} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s, "
                    f"{statements} SQL statements, {report.counts}"
                )
            print("contacts stored:", db.session.scalar(select(func.count()).select_from(Contact)))
            db.session.remove()
            db.drop_all()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
