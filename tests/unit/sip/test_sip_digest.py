"""Digest authentication against the RFC 7616 section 3.9.1 example."""

from __future__ import annotations

import pytest

from dialer.sip.auth import DigestError, authorization_header, digest_response, parse_challenge

CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def _challenge(algorithm: str):
    return parse_challenge(
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_vectors(algorithm, expected):
    response = digest_response(
        _challenge(algorithm),
        username="Mufasa",
        password="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce=CNONCE,
    )
    assert response == expected


def test_header_carries_qop_nc_cnonce_and_opaque():
    header = authorization_header(
        _challenge("SHA-256"),
        username="Mufasa",
        password="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce=CNONCE,
    )
    assert header.startswith("Digest ")
    assert 'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"' in header
    assert "qop=auth, nc=00000001" in header
    assert 'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"' in header
    assert "algorithm=SHA-256" in header


def test_rfc2069_form_without_qop():
    challenge = parse_challenge('Digest realm="sipp.test", nonce="abc"')
    header = authorization_header(
        challenge, username="u", password="p", method="INVITE", uri="sip:1@h"
    )
    assert "qop" not in header and "cnonce" not in header


@pytest.mark.parametrize(
    "value", ['Basic realm="x"', 'Digest nonce="n"', 'Digest realm="r", nonce="n", algorithm=SHA-1']
)
def test_unusable_challenges_are_refused(value):
    with pytest.raises(DigestError):
        parse_challenge(value)
