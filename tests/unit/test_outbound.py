"""The outbound-address policy, judged without connecting anywhere: the table of refused and allowed
addresses, the odd spellings a resolver accepts, and OUTBOUND_ALLOWED_NETWORKS."""

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp import config, outbound

NONE: tuple = ()  # no OUTBOUND_ALLOWED_NETWORKS
LOOPBACK = outbound.parse_networks("127.0.0.0/8")


def problem(address: str, allowed=NONE) -> str | None:
    return outbound.address_problem(ipaddress.ip_address(address), allowed)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("127.255.255.254", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("172.31.255.255", "a private address"),
        ("192.168.1.1", "a private address"),
        ("100.64.0.1", "a carrier-grade NAT address"),
        ("100.127.255.255", "a carrier-grade NAT address"),
        ("169.254.169.254", "a link-local address"),
        ("0.0.0.0", "an unspecified address"),
        ("0.1.2.3", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("239.255.255.250", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("192.0.0.8", "a reserved address"),
        ("198.18.0.1", "a reserved address"),
        ("192.0.2.1", "a documentation address"),
        ("198.51.100.7", "a documentation address"),
        ("203.0.113.9", "a documentation address"),
        ("::1", "::1 is a loopback address"),
        ("::", "an unspecified address"),
        ("fe80::1", "a link-local address"),
        ("fc00::1", "a unique-local address"),
        ("fd12:3456::1", "a unique-local address"),
        ("fec0::1", "a site-local address"),
        ("ff02::1", "a multicast address"),
        ("2001:db8::1", "a documentation address"),
        ("3fff::1", "a documentation address"),
        ("100::1", "a reserved address"),
        ("4000::1", "a reserved address"),  # outside 2000::/3, the only public IPv6 space
        ("::ffff:0:7f00:1", "a reserved address"),  # IPv4-translated (SIIT)
        # IPv6 spellings of IPv4 addresses: judged by the address inside, or refused as a whole.
        ("::ffff:127.0.0.1", "::ffff:7f00:1 is the IPv4-mapped spelling of 127.0.0.1, a loopback address"),
        ("::ffff:10.0.0.1", "IPv4-mapped spelling of 10.0.0.1, a private address"),
        ("::ffff:169.254.169.254", "IPv4-mapped spelling of 169.254.169.254, a link-local address"),
        ("64:ff9b::7f00:1", "NAT64 spelling of 127.0.0.1, a loopback address"),
        ("64:ff9b::a9fe:a9fe", "NAT64 spelling of 169.254.169.254"),
        ("64:ff9b:1::a00:1", "a local-use NAT64 address"),
        ("2002:7f00:1::", "a 6to4 address (IPv4 127.0.0.1)"),
        ("2002:c0a8:101::1", "a 6to4 address (IPv4 192.168.1.1)"),
        ("2002:808:808::", "a 6to4 address (IPv4 8.8.8.8)"),  # deprecated tunnels: refused whatever is inside
        ("::7f00:1", "an IPv4-compatible address (IPv4 127.0.0.1)"),
        ("::808:808", "an IPv4-compatible address"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a Teredo address (IPv4 127.0.0.1)"),
    ],
)
def test_refused_addresses(address, why):
    assert why in problem(address)


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "172.32.0.1",  # just past 172.16.0.0/12
        "100.128.0.1",  # just past 100.64.0.0/10
        "11.0.0.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001:82a::200e",
        "::ffff:8.8.8.8",  # the mapped spelling of a public address reaches that public address
        "64:ff9b::808:808",  # NAT64 (DNS64 networks) of a public address
    ],
)
def test_public_unicast_addresses_are_allowed(address):
    assert problem(address) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("10.1", "10.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
        ("[0:0:0:0:0:ffff:7f00:0001]", "::ffff:127.0.0.1"),
        ("[::1]", "::1"),
        ("localhost", "127.0.0.1"),
        ("LOCALHOST.", "127.0.0.1"),
        ("api.localhost", "127.0.0.1"),
    ],
)
def test_odd_spellings_are_read_as_the_resolver_reads_them(host, address):
    ip = outbound.literal_address(host)
    assert ip == ipaddress.ip_address(address)
    assert outbound.address_problem(ip, NONE) is not None


@pytest.mark.parametrize("host", ["example.com", "hooks.example.org", "127.0.0.1.evil.example", "1e1", "08.1.1.1"])
def test_names_are_left_for_the_check_after_resolving(host):
    # AI_NUMERICHOST: the parse asks no DNS server, so a name is not judged here.
    assert outbound.literal_address(host) is None


def test_allowed_networks_let_every_spelling_of_them_in_and_nothing_else():
    for address in ("127.0.0.1", "127.9.9.9", "::ffff:127.0.0.1", "64:ff9b::7f00:1"):
        assert problem(address, LOOPBACK) is None, address
    for address in ("::1", "10.0.0.1", "2002:7f00:1::", "::7f00:1", "169.254.169.254"):
        assert problem(address, LOOPBACK) is not None, address
    ula = outbound.parse_networks("fd00::/8, 10.20.0.0/16")
    assert problem("fd00::5", ula) is None and problem("10.20.3.4", ula) is None
    assert problem("10.21.0.1", ula) is not None and problem("fc00::1", ula) is not None


@given(st.ip_addresses(v=4))
def test_ipv6_spellings_of_an_ipv4_address_get_its_verdict_or_are_refused(v4):
    verdict = problem(str(v4)) is None
    assert (problem(f"::ffff:{v4}") is None) == verdict
    assert (problem(str(ipaddress.IPv6Address(int(ipaddress.ip_address("64:ff9b::")) | int(v4)))) is None) == verdict
    assert problem(str(ipaddress.IPv6Address((0x2002 << 112) | (int(v4) << 80)))) is not None  # 6to4
    if int(v4) > 1:
        assert problem(str(ipaddress.IPv6Address(int(v4)))) is not None  # IPv4-compatible


@given(st.ip_addresses())
def test_nothing_python_calls_non_global_is_allowed(ip):
    mapped = getattr(ip, "ipv4_mapped", None)
    if outbound.address_problem(ip, NONE) is None:
        assert (mapped or ip).is_global and not (mapped or ip).is_multicast


@pytest.mark.parametrize("value", ["", "  ", "127.0.0.0/8", "127.0.0.0/8, ::1/128", "10.0.0.1/8,fd00::/8,"])
def test_allowed_networks_setting_parses(value, tmp_path):
    settings = config.load({"OUTBOUND_ALLOWED_NETWORKS": value}, tmp_path)
    assert settings["OUTBOUND_ALLOWED_NETWORKS"] == outbound.parse_networks(value)


@pytest.mark.parametrize("value", ["localhost", "10.0.0.0/33", "127.0.0.0/8;10.0.0.0/8", "any"])
def test_a_bad_allowed_networks_value_stops_the_app_with_one_line(value, tmp_path):
    from webapp import create_app

    with pytest.raises(SystemExit) as stopped:
        create_app({"ENV_VARS": {"OUTBOUND_ALLOWED_NETWORKS": value}, "INSTANCE_PATH": str(tmp_path)})
    message = str(stopped.value)
    assert message.startswith("OneSlot cannot start: OUTBOUND_ALLOWED_NETWORKS: ") and "\n" not in message
    assert "is not a network" in message
