"""Time the contacts list and search at 1,000 and 100,000 contacts (SQLite, or PostgreSQL with --pg-url).

Run: .venv/bin/python bench/contacts_search.py [--sizes 1000,100000] [--pg-url postgresql+psycopg://…]
Contacts go in through the CSV importer (files of 10,000 rows), as an admin's import would write
them; each address is then requested in-process (the Flask test client, signed in): one warm-up,
then the median of 5. The PostgreSQL database named in --pg-url is emptied first.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp import create_app  # noqa: E402
from webapp.contacts import importer  # noqa: E402
from webapp.extensions import db  # noqa: E402

FIRST = [
    "Maria",
    "Mark",
    "Martin",
    "Marta",
    "Ada",
    "Grace",
    "Alan",
    "Bob",
    "Carol",
    "Dave",
    "Erin",
    "Frank",
    "Heidi",
    "Ivan",
    "Judy",
    "Mallory",
    "Niaj",
    "Olivia",
    "Peggy",
    "Rupert",
    "Sybil",
    "Trent",
    "Victor",
    "Walter",
    "José",
    "Zoë",
    "Renée",
    "Åsa",
    "Łukasz",
    "Chloé",
    "François",
    "Søren",
    "Nuño",
    "Ana",
    "Ali",
    "Chen",
    "Wei",
    "Yuki",
    "Priya",
    "Ravi",
    "Fatima",
    "Omar",
    "Lena",
    "Jonas",
    "Emma",
    "Noah",
    "Liam",
    "Mia",
    "Sofia",
    "Lucas",
]
LAST = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "García",
    "Martínez",
    "López",
    "González",
    "Rossi",
    "Russo",
    "Dubois",
    "Lefèvre",
    "Nowak",
    "Kowalski",
    "Novák",
    "Jensen",
    "Hansen",
    "Nielsen",
    "Andersson",
    "Johansson",
    "O'Brien",
    "Smith-Jones",
    "Tanaka",
    "Kim",
]
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "example.org", "mail.example.net")
RARE = ("Zebedee", "Quixote", "zebedee.quixote@rare.example")
URLS = {
    "rare name": "/contacts/?q=quixote",
    "common prefix": "/contacts/?q=ma",
    "list": "/contacts/",
    "list by name": "/contacts/?sort=name",
    "domain + tag": "/contacts/?q=gmail&tag=customer",
}
CHUNK = 10_000


def csv_chunk(start: int, stop: int, total: int) -> bytes:
    """Rows start..stop-1 of a made-up CRM export; one contact in the middle has a name nobody else has."""
    lines = ["first_name,last_name,email,tags"]
    for n in range(start, stop):
        if n == total // 2:
            first, last, email = RARE
        else:
            first, last = FIRST[n % len(FIRST)], LAST[(n // len(FIRST)) % len(LAST)]
            local = f"{first}.{last}".lower().replace("'", "")
            email = f"{local}{n}@{DOMAINS[n % len(DOMAINS)]}"
        tags = "customer" if n % 3 else "customer;newsletter"
        lines.append(f'"{first}","{last}",{email},"{tags};group-{n % 12}"')
    return ("\n".join(lines) + "\n").encode()


def build(total: int) -> float:
    """Import `total` contacts; the seconds it took."""
    started = time.perf_counter()
    for start in range(0, total, CHUNK):
        report = importer.import_csv(csv_chunk(start, min(start + CHUNK, total), total), "bench.csv")
        assert report.counts["refused"] == 0, report.of("refused")[:3]
    return time.perf_counter() - started


def timings(client) -> dict[str, float]:
    """Median milliseconds of each address (after one warm-up request)."""
    result = {}
    for label, url in URLS.items():
        assert client.get(url).status_code == 200, url
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            response = client.get(url)
            runs.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        result[label] = statistics.median(runs)
    return result


def run(url: str, total: int, tmp: str) -> dict[str, float]:
    """Build a database of `total` contacts and time the pages."""
    app = create_app(
        {
            "ENV_VARS": {"SECRET_KEY": "bench-secret-key-0123456789", "DATABASE_URL": url},
            "INSTANCE_PATH": f"{tmp}/instance",
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        }
    )
    with app.app_context():
        from webapp.auth.services import create_admin

        db.drop_all()
        db.create_all()
        seconds = build(total)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        else:
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        print(f"  {total:,} contacts imported in {seconds:.1f} s", flush=True)
        create_admin("bench@example.com", "bench-password-123")
        client = app.test_client()
        response = client.post("/login", data={"email": "bench@example.com", "password": "bench-password-123"})
        assert response.status_code == 303
        result = timings(client)
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--pg-url", default="")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        table = {}
        for size in sizes:
            print(f"{size:,} contacts …", flush=True)
            table[size] = run(args.pg_url or f"sqlite:///{tmp}/bench-{size}.db", size, tmp)
    print(f"\n{'page':<16}" + "".join(f"{size:>12,}" for size in sizes) + "   growth")
    for label in URLS:
        row = [table[size][label] for size in sizes]
        growth = f"{row[-1] / row[0]:.1f}×" if len(row) > 1 and row[0] else ""
        print(f"{label:<16}" + "".join(f"{ms:>10.1f}ms" for ms in row) + f"   {growth}")


if __name__ == "__main__":
    main()
