"""A TCP forwarder on loopback between the app and PostgreSQL, that a test can take down and bring back.

`DbProxy(("127.0.0.1", 5432))` listens on a free loopback port; `url(database_url)` is that URL through
it. `down()` closes the listening socket (new connections are refused) and cuts every open one (the
app's pooled connections are lost mid-use, as when the server restarts); `up()` listens again on the
same port. A real outage as the driver sees it, without touching the shared PostgreSQL server.

`BlackHole()` is a server that accepts connections and never answers (a hung host, a partition that
lets the handshake through): what the driver's timeouts are for. `close()` lets go of them all.
"""

import contextlib
import select
import socket
import threading
from urllib.parse import urlsplit, urlunsplit


class DbProxy:
    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._pairs: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.up()

    def url(self, database_url: str) -> str:
        """`database_url` (a postgresql URL) through this proxy."""
        parts = urlsplit(database_url)
        user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def up(self) -> None:
        """Accept connections (again, on the same port)."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and cut the open ones."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for sock in pairs:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    close = down

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # down(): the listener was closed
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._pairs.update((client, server))
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()

    def _pipe(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return  # cut by down(), or the other side went away
        finally:
            with self._lock:
                self._pairs.difference_update((client, server))
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.close()


class BlackHole:
    """A loopback listener that accepts every connection and never sends or reads a byte."""

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self) -> str:
        """A PostgreSQL URL whose server is this black hole."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/oneslot"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._held.append(client)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in self._held:
            with contextlib.suppress(OSError):
                sock.close()
