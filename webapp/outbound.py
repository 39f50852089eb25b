"""The outbound-address policy: where OneSlot may send a request to a URL someone typed.

Every request to an address an admin (or an imported file) supplied goes through this module:
outgoing webhook steps today, calendar connections (CalDAV, ICS) later. By default only public
unicast addresses are reached. Refused: loopback, private (RFC 1918), carrier-grade NAT, link-local,
unique-local, site-local, multicast, reserved, benchmarking, documentation and unspecified
addresses, and every IPv4-mapped, NAT64, 6to4, Teredo and IPv4-compatible spelling of them. An admin
who runs a receiver on an internal network on purpose lists it in OUTBOUND_ALLOWED_NETWORKS.

Two checks, one rule:
- `host_problem(host, port)` at save and import, without any network traffic: a literal address
  (parsed as the system's resolver parses it, so `2130706433`, `0x7f.1` and `127.1` are 127.0.0.1)
  and the `localhost` names are judged; other names cannot be judged before they are resolved.
- `request()` (or `connection()`) at send time: resolves the name once, checks EVERY address it
  resolves to, and connects only to those checked addresses (TLS still verifies the certificate
  for the name). There is no second lookup for a rebinding DNS server to answer differently, and
  redirects are never followed (http.client does not follow them; a 3xx is an answer like any other).

What a receiver said reaches the admin only when it answered HTTP; see `_shown`.
"""

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# IANA's special-purpose registries, spelled out so the rule does not change with the Python version
# (ipaddress.is_global has moved between releases, and calls multicast 224.0.0.1 "global").
_V4 = [
    ("0.0.0.0/8", "an unspecified address"),  # "this network": connecting to 0.0.0.0 reaches the host itself
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a carrier-grade NAT address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),  # cloud metadata services live here
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "a reserved address"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.88.99.0/24", "a reserved address"),  # the old 6to4 relay anycast
    ("192.168.0.0/16", "a private address"),
    ("198.18.0.0/15", "a reserved address"),  # benchmarking
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),  # and 255.255.255.255, the broadcast address
]
_V6 = [
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("100::/64", "a reserved address"),  # discard-only
    ("2001::/23", "a reserved address"),  # IETF protocol assignments (Teredo is named before this)
    ("2001:db8::/32", "a documentation address"),
    ("3fff::/20", "a documentation address"),
    ("fc00::/7", "a unique-local address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
]
REFUSED = [(ipaddress.ip_network(net), why) for net, why in _V4 + _V6]
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")  # every public IPv6 address is in it
MAPPED = ipaddress.ip_network("::ffff:0:0/96")
COMPATIBLE = ipaddress.ip_network("::/96")  # ::a.b.c.d, deprecated (RFC 4291)
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: local use, the IPv4 part can sit anywhere
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
TEREDO = ipaddress.ip_network("2001::/32")
TUNNELS = {"6to4": "a 6to4 address", "Teredo": "a Teredo address", "IPv4-compatible": "an IPv4-compatible address"}
ITSELF = "is OneSlot itself"  # the end of the message for a request to OneSlot's own address
SHOWN_BYTES = 1024  # of an HTTP answer's body, read to show the admin
SHOWN_CHARS = 500
TEXT_TYPES = ("text/", "application/json", "application/problem+json", "application/xml")


class Refused(Exception):
    """The policy does not let OneSlot send this request; the message says why, for the admin."""


class Unreachable(Exception):
    """The request could not be made or answered; the message is ours, never the other side's words."""


@dataclass(frozen=True)
class Response:
    """What an HTTP receiver answered: its status, the part of its body that may be shown, and its
    ETag header ("" when none; a calendar connection keeps it for its next conditional write)."""

    status: int
    text: str
    etag: str = ""


# --- settings --------------------------------------------------------------------------------------


def parse_networks(text: str) -> tuple[Network, ...]:
    """OUTBOUND_ALLOWED_NETWORKS' value: comma-separated CIDRs ("10.0.0.0/8, fd00::/8"); ValueError names a bad one."""
    networks = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not a network (write it as a CIDR, e.g. 10.0.0.0/8 or fd00::/8)") from None
    return tuple(networks)


def _allowed_networks() -> tuple[Network, ...]:
    return tuple(current_app.config.get("OUTBOUND_ALLOWED_NETWORKS") or ())


# --- the rule --------------------------------------------------------------------------------------


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """An IPv6 spelling that carries an IPv4 address, as (what kind of spelling, the IPv4 address)."""
    last32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in MAPPED:
        return "IPv4-mapped", last32
    if ip in NAT64:
        return "NAT64", last32
    if ip in SIX_TO_FOUR and ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    if ip in TEREDO and ip.teredo is not None:
        return "Teredo", ip.teredo[1]
    if ip in COMPATIBLE and int(ip) > 1:
        return "IPv4-compatible", last32
    return None


def _plain_problem(ip: Address) -> str | None:
    """Why an address, taken as it is, is not a public unicast one ("a loopback address"); or None."""
    for network, why in REFUSED:
        if ip.version == network.version and ip in network:
            return why
    if ip.version == 6 and ip not in GLOBAL_UNICAST:
        return "a reserved address"
    if not ip.is_global:  # a belt over the table above, for ranges IANA adds later
        return "not a public address"
    return None


def _why(ip: Address, allowed: tuple[Network, ...]) -> str | None:
    """What kind of address this is when it is refused ("a loopback address"), or None."""
    if any(ip.version == net.version and ip in net for net in allowed):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64_LOCAL:
            return "a local-use NAT64 address"
        if embedded := _embedded_ipv4(ip):
            kind, v4 = embedded
            if kind in ("IPv4-mapped", "NAT64"):
                # These reach exactly the IPv4 address inside: judge that one.
                inner = _why(v4, allowed)
                return f"the {kind} spelling of {v4}, {inner}" if inner else None
            # 6to4, Teredo and IPv4-compatible addresses are deprecated tunnels: nothing public needs them.
            return f"{TUNNELS[kind]} (IPv4 {v4})"
    return _plain_problem(ip)


def address_problem(ip: Address, allowed: tuple[Network, ...] | None = None) -> str | None:
    """Why OneSlot may not connect to this address ("127.0.0.1 is a loopback address"), or None.

    `allowed` (default: OUTBOUND_ALLOWED_NETWORKS) lets addresses in through any spelling that
    reaches them: allowing 127.0.0.0/8 also allows ::ffff:127.0.0.1."""
    allowed = _allowed_networks() if allowed is None else allowed
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(str(ip).split("%")[0])
    why = _why(ip, allowed)
    return f"{ip} is {why}" if why else None


def literal_address(host: str) -> Address | None:
    """The address a host spells, parsed as the system's resolver parses a numeric host (so `127.1`,
    `0x7f.1`, `017700000001` and `2130706433` are 127.0.0.1); `localhost` and `*.localhost` are
    127.0.0.1 (RFC 6761: always the host itself); None for any other name. No network traffic:
    AI_NUMERICHOST never asks DNS."""
    name = (host or "").strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return ipaddress.IPv4Address("127.0.0.1")
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(str(infos[0][4][0]).split("%")[0]) if infos else None


def _self_addresses(port: int, *, resolve: bool) -> set[Address]:
    """The addresses OneSlot itself answers on, as far as BASE_URL tells, when `port` is its port."""
    parts = urlsplit(current_app.config["BASE_URL"])
    own_port = parts.port or (443 if parts.scheme == "https" else 80)
    if port != own_port or not parts.hostname:
        return set()
    if ip := literal_address(parts.hostname):
        return {ip}
    if not resolve:
        return set()
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError:
        return set()
    return {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}


def _same_host(ip: Address, others: set[Address]) -> bool:
    """True when `ip` is one of `others`, comparing IPv4-mapped spellings by the IPv4 address inside."""

    def plain(address):
        mapped = getattr(address, "ipv4_mapped", None)
        return mapped or address

    return plain(ip) in {plain(other) for other in others}


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def host_problem(host: str, port: int) -> str | None:
    """Why a URL's host may not be reached, judged now without DNS (a literal address or localhost), or None.

    A name is judged when the request is sent, on the addresses it resolves to then."""
    ip = literal_address(host)
    if ip is None:
        return None
    if problem := address_problem(ip):
        return problem
    if _same_host(ip, _self_addresses(port, resolve=False)):
        return f"{_host_port(host, port)} {ITSELF}"
    return None


def resolve(host: str, port: int) -> list[tuple[int, tuple]]:
    """Resolve once and check every address: the (family, sockaddr) pairs to connect to.

    Raises Refused when any address is refused: a name that also points inside is not trusted for the
    rest. Raises Unreachable when the name does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Unreachable(f"could not resolve the host name {host}") from None
    own = _self_addresses(port, resolve=True)
    checked: list[tuple[int, tuple]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if problem := address_problem(ip):
            raise Refused(problem if literal_address(host) else f"{problem} (the address of {host})")
        if _same_host(ip, own):
            raise Refused(f"{_host_port(host, port)} {ITSELF}")
        checked.append((family, sockaddr))
    if not checked:
        raise Unreachable(f"could not resolve the host name {host}")
    return checked


# --- connecting ------------------------------------------------------------------------------------


def connect(addresses: list[tuple[int, tuple]], timeout: float | None) -> socket.socket:
    """A TCP connection to the first of the checked addresses (from resolve()) that answers."""
    last: OSError | None = None
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError("no address to connect to")


class _PinnedHTTP(http.client.HTTPConnection):
    """http.client, connecting only to addresses already checked: it never resolves the name again."""

    def __init__(self, host, port, addresses, timeout):
        super().__init__(host, port, timeout=timeout)
        self.checked = addresses

    def connect(self):
        self.sock = connect(self.checked, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """As _PinnedHTTP, over TLS: the certificate is still verified for the URL's host name."""

    def __init__(self, host, port, addresses, timeout):
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.checked = addresses

    def connect(self):
        sock = connect(self.checked, self.timeout)
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def split(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL; ValueError when it is not one."""
    parts = urlsplit(url)
    port = parts.port  # ValueError for a port out of range
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL with a host")
    host = parts.hostname.encode("idna").decode("ascii")  # UnicodeError (a ValueError) for an impossible name
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def connection(url: str, timeout: float) -> http.client.HTTPConnection:
    """An http.client connection for the URL's host that will connect only to its checked addresses.

    Raises Refused or Unreachable (see resolve). For callers that speak more than one request
    (a calendar connection); a single request is simpler with request()."""
    try:
        scheme, host, port, _path = split(url)
    except ValueError:
        raise Refused("that is not an http:// or https:// URL with a host") from None
    addresses = resolve(host, port)
    cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    return cls(host, port, addresses, timeout)


def _shown(response: http.client.HTTPResponse) -> str:
    """The part of an HTTP answer's body the admin may see.

    Only a receiver that answered HTTP gets here (a service speaking anything else fails earlier, in
    http.client, and is reported in our words only). The receiver is public, or one the admin allowed;
    what it says in words (e.g. "invalid signature") is what the admin needs to fix the step. So: a
    text or JSON body only, at most SHOWN_CHARS characters, with line breaks and other control or
    formatting characters (bidirectional overrides) made spaces; binary or untyped bodies are not shown."""
    content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
    if not content_type.startswith(TEXT_TYPES) and not content_type.endswith(("+json", "+xml")):
        return ""
    raw = response.read(SHOWN_BYTES)
    try:
        text = raw.decode(response.headers.get_content_charset() or "utf-8", "replace")
    except LookupError:
        text = raw.decode("utf-8", "replace")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())[:SHOWN_CHARS]


def request(method: str, url: str, *, body: bytes = b"", headers: dict | None = None, timeout: float = 10) -> Response:
    """Send one request to a URL under the policy; redirects are answers, not followed.

    Raises Refused (the policy said no: do not retry) or Unreachable (a network or protocol problem,
    in our own words: the other side's text is never echoed)."""
    conn = connection(url, timeout)
    _scheme, _host, _port, path = split(url)
    try:
        with _in_our_words(timeout):
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return Response(response.status, _shown(response), response.getheader("ETag") or "")
    finally:
        conn.close()


class TooLarge(Unreachable):
    """The answer's body is longer than the caller takes."""


def fetch(url: str, *, max_bytes: int, headers: dict | None = None, timeout: float = 10) -> tuple[int, bytes]:
    """GET a URL under the policy and return (status, body), the body at most `max_bytes` long (else TooLarge).

    For a document OneSlot reads (an ICS feed); Refused and Unreachable as request()."""
    conn = connection(url, timeout)
    _scheme, _host, _port, path = split(url)
    try:
        with _in_our_words(timeout):
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            length = response.getheader("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise TooLarge(f"the answer is larger than {max_bytes // (1024 * 1024) or 1} MB")
            data = response.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise TooLarge(f"the answer is larger than {max_bytes // (1024 * 1024) or 1} MB")
            return response.status, data
    finally:
        conn.close()


@contextmanager
def _in_our_words(timeout: float) -> Iterator[None]:
    """Network and protocol errors as Unreachable, in our words (never bytes from the other side)."""
    try:
        yield
    except TimeoutError:
        raise Unreachable(f"timed out: no answer within {timeout:g} s") from None
    except ConnectionRefusedError:
        raise Unreachable("the connection was refused") from None
    except http.client.InvalidURL:
        raise Unreachable("the URL holds characters that cannot be sent (spaces or control characters)") from None
    except http.client.RemoteDisconnected:
        raise Unreachable("the receiver closed the connection without an HTTP answer") from None
    except http.client.HTTPException:
        # BadStatusLine and the like: what came back was not HTTP (an SMTP banner, a database's greeting).
        raise Unreachable("the receiver did not answer HTTP") from None
    except ssl.SSLCertVerificationError as exc:
        raise Unreachable(f"its TLS certificate was not accepted ({exc.verify_message})") from None
    except ssl.SSLError as exc:
        raise Unreachable(f"the TLS handshake failed ({exc.reason or 'unknown reason'})") from None
    except Unreachable:
        raise
    except OSError as exc:
        # The operating system's words for the error (never bytes from the other side).
        raise Unreachable(exc.strerror or type(exc).__name__) from None
