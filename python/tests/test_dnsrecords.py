"""The records and update messages of wide-area registration, without a
socket: what the DNS server would read off the wire."""

import base64

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.update
import pytest

from pingpong_server.dnsrecords import (
    Registration,
    choose_host,
    instance_name,
    is_ours,
    parse_key,
)
from pingpong_server.register import routable

KEYGEN = (
    'key "pingpong" {\n\talgorithm hmac-sha256;\n'
    '\tsecret "3Yx/8ObGmOVs4ihcXBRAmtaTqkqHL3q8e16ReF4yqzs=";\n};\n'
)
ZONE = dns.name.from_text("lab.test.")


def registration() -> Registration:
    return Registration(
        zone=ZONE,
        instance="Bar Wide café",
        host=dns.name.from_text("web1.lab.test."),
        port=4433,
        priority=0,
        weight=95,
        txt=(("v", "1"), ("id", "ab" * 16)),
        addresses=("10.81.0.2", "fd00::2"),
        ttl=10,
    )


def wire(update: dns.update.UpdateMessage) -> dns.update.UpdateMessage:
    """Signed, encoded and read back as the DNS server would."""
    key = parse_key(KEYGEN)
    message = dns.message.from_wire(update.to_wire(), keyring=key.keyring())
    assert isinstance(message, dns.update.UpdateMessage)
    return message


def test_reads_what_tsig_keygen_writes():
    key = parse_key(KEYGEN)
    assert (key.name, key.algorithm, len(key.secret)) == ("pingpong", "hmac-sha256", 32)
    commented = '# by hand\n/* a */ key "k.lab" { // x\n algorithm HMAC-SHA512; secret "AAECAwQ="; };'
    assert parse_key(commented).secret == bytes([0, 1, 2, 3, 4])


def test_comment_markers_inside_the_secret_are_base64():
    # tsig-keygen's random secrets hold "//" about once in a hundred keys;
    # it is base64 there, not a comment ("////" is three 0xff bytes).
    key = parse_key('key "k" { algorithm hmac-sha256; secret "ab//////"; }; // a comment')
    assert key.secret == base64.b64decode("ab//////")
    assert parse_key('key "k" { algorithm hmac-sha256; secret "////"; };').secret == b"\xff\xff\xff"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no `key"),
        ('key "k" { algorithm hmac-md5; secret "AAAA"; };', "not supported"),
        ('key "k" { algorithm hmac-sha256; };', "no `secret`"),
        ('key "k" { secret "AAAA"; };', "no `algorithm`"),
        ('key "k" { algorithm hmac-sha256; secret "!!"; };', "not base64"),
    ],
)
def test_bad_key_files_say_what_is_wrong(text: str, says: str):
    with pytest.raises(ValueError, match=says):
        parse_key(text)


def test_the_instance_label_keeps_its_bytes():
    name = instance_name(ZONE, "Bar Wide café")
    assert name.labels[0] == "Bar Wide café".encode()
    assert len(name.labels) == 6  # instance, _pingpong, _udp, lab, test, root
    with pytest.raises(ValueError, match="1 to 63 bytes"):
        instance_name(ZONE, "x" * 64)


def test_claim_requires_an_unused_name_and_adds_everything():
    message = wire(registration().claim(parse_key(KEYGEN)))
    assert message.zone[0].name == ZONE and message.zone[0].rdtype == dns.rdatatype.SOA
    (prerequisite,) = message.prerequisite
    # RFC 2136 §2.4.5, "name is not in use": class NONE, type ANY.
    assert (prerequisite.deleting, prerequisite.rdtype) == (dns.rdataclass.NONE, dns.rdatatype.ANY)
    added = [rrset.rdtype for rrset in message.update if rrset.deleting is None]
    assert added == [
        dns.rdatatype.PTR,
        dns.rdatatype.SRV,
        dns.rdatatype.TXT,
        dns.rdatatype.A,
        dns.rdatatype.AAAA,
    ]
    (srv,) = next(r for r in message.update if r.rdtype == dns.rdatatype.SRV)
    assert (srv.priority, srv.weight, srv.port, srv.target.to_text()) == (0, 95, 4433, "web1.lab.test.")
    (txt,) = next(r for r in message.update if r.rdtype == dns.rdatatype.TXT and r.deleting is None)
    assert list(txt.strings) == [b"v=1", b"id=" + b"ab" * 16]


def test_rewrite_and_remove_require_the_txt_that_was_read():
    read = [b"v=1", b"id=old"]
    key = parse_key(KEYGEN)
    for update in (registration().rewrite(key, read), registration().remove(key, read)):
        (prerequisite,) = wire(update).prerequisite
        assert prerequisite.rdclass == dns.rdataclass.IN and prerequisite.ttl == 0
        assert list(next(iter(prerequisite)).strings) == read


def test_remove_deletes_only_this_servers_records():
    message = wire(registration().remove(parse_key(KEYGEN), [b"v=1"]))
    instance = registration().name()
    for rrset in message.update:
        if rrset.deleting == dns.rdataclass.ANY:
            assert rrset.name == instance
        else:
            assert rrset.deleting == dns.rdataclass.NONE
            assert rrset.name in (instance, dns.name.from_text("web1.lab.test.")) or any(
                rdata.target == instance for rdata in rrset
            )


def test_conflicts_get_numbered_names_that_fit_a_label():
    assert registration().renamed("web1", 2).instance == "web1 (2)"
    long = registration().renamed("é" * 31, 12)
    assert len(long.instance.encode()) <= 63 and long.instance.endswith(" (12)")


def test_ownership_is_the_id_or_the_certificate():
    txt = [b"v=1", b"id=AA11", b"fp=beef"]
    assert is_ours(txt, "aa11", "other")
    assert is_ours(txt, "bb22", "BEEF")
    assert not is_ours(txt, "bb22", "cafe")


def test_completeness_notices_any_missing_record():
    reg = registration()
    records = reg.records()
    assert reg.is_complete_in(records)
    for i in range(len(records)):
        assert not reg.is_complete_in(records[:i] + records[i + 1 :])


def test_the_host_comes_from_the_certificate_when_it_can():
    host, warning = choose_host(ZONE, None, ["web1", "web1.local", "Web1.Lab.Test"], "box")
    assert (host.to_text(), warning) == ("web1.lab.test.", None)
    host, warning = choose_host(ZONE, None, ["web1.local"], "My_Box.corp")
    assert host.to_text() == "my-box.lab.test."
    assert warning is not None and "--san my-box.lab.test" in warning
    assert choose_host(ZONE, None, ["*.lab.test"], "box")[1] is None
    for given, want in [
        ("web2", "web2.lab.test."),
        ("web2.lab.test", "web2.lab.test."),
        ("a.b", "a.b.lab.test."),
    ]:
        assert choose_host(ZONE, given, ["*.lab.test"], "box")[0].to_text() == want
    with pytest.raises(ValueError, match="not inside the zone"):
        choose_host(ZONE, "web2.other.test.", [], "box")


def test_loopback_and_link_local_are_not_registered():
    assert routable("10.81.0.2", "0.0.0.0")
    assert not routable("127.0.0.1", "0.0.0.0")
    assert not routable("fe80::1", "::")
    assert routable("127.0.0.1", "127.0.0.1")
