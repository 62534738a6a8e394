import pytest

from ansible_collections.pgha.cluster.plugins.module_utils import tls


def test_an_address_is_both_an_ip_and_a_dns_entry():
    assert tls.subject_alt_names(["pg1", "10.0.0.5", "pg1", "", "fd00::5"]) == [
        "DNS:pg1", "IP:10.0.0.5", "DNS:10.0.0.5", "IP:fd00::5", "DNS:fd00::5"]


def test_missing_names_reads_community_crypto_spelling():
    have = ["DNS:pg1", "IP Address:10.0.0.5", "DNS:10.0.0.5"]
    assert tls.missing_names(have, ["DNS:pg1", "IP:10.0.0.5", "DNS:10.0.0.5"]) == []
    assert tls.missing_names(have, ["DNS:pg1", "DNS:db.example"]) == ["DNS:db.example"]
    assert tls.missing_names(None, ["DNS:pg1"]) == ["DNS:pg1"]


def test_client_tls_verifies_and_never_goes_without():
    assert tls.client_tls({}) == {"sslmode": "verify-full", "sslrootcert": tls.CA_FILE}
    assert tls.client_tls({"sslmode": "verify-ca"}, client_cert=True) == {
        "sslmode": "verify-ca", "sslrootcert": tls.CA_FILE, "sslcert": tls.CERT_FILE, "sslkey": tls.KEY_FILE}
    for mode in ("prefer", "disable", "allow"):
        with pytest.raises(ValueError, match="sslmode"):
            tls.client_tls({"sslmode": mode})


@pytest.mark.parametrize("host, verified", [
    ("10.0.0.5", True), ("pooler1", True), ("127.0.0.1", False), ("::1", False), ("localhost", False),
    ("/var/run/postgresql", False)])
def test_tls_env_verifies_every_host_but_loopback(host, verified):
    env = tls.tls_env(host)
    assert (env == {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": tls.CA_FILE}) is verified
    assert env or not verified
