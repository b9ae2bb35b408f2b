"""The one redaction function: a row per kind of credential, rows of innocent text it must leave alone,
the planted secrets of the real CLI transcripts, and properties under arbitrary surrounding text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.redact import REDACTED, Secrets, redact, redact_stream_line, redact_value
from bot.sandbox.agent import RECORDINGS

FIXTURES = RECORDINGS
# The fake credentials planted in every transcript (fixtures README): in the second tool result.
PLANTED = (
    "ghs_FAKEfakeFAKEfake0123456789abcdefABCD",
    "sk-ant-api03-FAKEtestKEYdoNOTuse" + "0123456789" * 7 + "abcdAA",
    "MIIEFAKEAIBAAKCAQEAfakeFAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKE",
    "NOTArealKEYnotAREALkeyNOTarealKEYnotAREALkeyNOTarealKEYnotAREALkey0",
    "ZmFrZSBrZXkgZm9yIHRlc3RzIG9ubHkgLS0gZG8gbm90IHVzZQ==FAKEFAKEFAKE",
    "-----BEGIN RSA PRIVATE KEY-----",
)
PEM_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
ROWS = [
    # (id, text, expected)
    ("ghp token", "token ghp_0123456789abcdefABCDEFghijklmnopqr12 end", f"token {REDACTED} end"),
    ("gho token", "gho_0123456789abcdefABCDEFghijklmnopqr12", REDACTED),
    ("ghu token", "x=ghu_0123456789abcdefABCDEFghijklmnopqr12", f"x={REDACTED}"),
    ("ghs token", "GITHUB_TOKEN=ghs_FAKEfakeFAKEfake0123456789abcdefABCD\n", f"GITHUB_TOKEN={REDACTED}\n"),
    ("ghr token", "ghr_0123456789abcdefABCDEFghijklmnopqr12.", f"{REDACTED}."),
    ("token glued to a word", "xghp_0123456789abcdefABCDEFghijklmnopqr12", f"x{REDACTED}"),
    (
        "fine-grained PAT",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV",
        REDACTED,
    ),
    ("anthropic key", "ANTHROPIC_API_KEY=sk-ant-api03-abcDEF123_-xyz789", f"ANTHROPIC_API_KEY={REDACTED}"),
    ("anthropic admin key", "sk-ant-admin01-abcdefghijklmnop", REDACTED),
    ("aws access key id", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", f"aws_access_key_id = {REDACTED}"),
    ("aws session key id", "ASIAY34FZKBOKMUTVV7A", REDACTED),
    (
        "aws secret access key",
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        f"AWS_SECRET_ACCESS_KEY={REDACTED}",
    ),
    (
        "pem block",
        f"before\n-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}-----END RSA PRIVATE KEY-----\nafter",
        f"before\n{REDACTED}\nafter",
    ),
    (
        "openssh key",
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}-----END OPENSSH PRIVATE KEY-----",
        REDACTED,
    ),
    (
        "pkcs8 key",
        f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}-----END PRIVATE KEY-----",
        REDACTED,
    ),
    (
        "encrypted key",
        f"-----BEGIN ENCRYPTED PRIVATE KEY-----\n{PEM_BODY}-----END ENCRYPTED PRIVATE KEY-----",
        REDACTED,
    ),
    (
        "pem block with JSON-escaped line breaks",
        '{"content":"k=-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEE\\n-----END EC PRIVATE KEY-----","x":1}',
        f'{{"content":"k={REDACTED}","x":1}}',
    ),
    ("pem block cut off at its end", f"ok\n-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}", f"ok\n{REDACTED}"),
    (
        "pem block cut off at its end, in JSON",
        '{"a":"-----BEGIN RSA PRIVATE KEY-----\\nMIIEow","b":"kept"}',
        f'{{"a":"{REDACTED}","b":"kept"}}',
    ),
    (
        "pem block cut off at its start, in JSON",
        '{"a":"kept","b":"MIIEow\\n-----END RSA PRIVATE KEY-----\\nmore"}',
        f'{{"a":"kept","b":"{REDACTED}\\nmore"}}',
    ),
    ("pem block cut off at its start", f"{PEM_BODY}-----END RSA PRIVATE KEY-----\nrest", f"{REDACTED}\nrest"),
    (
        "two pem blocks",
        "-----BEGIN PRIVATE KEY-----\na\n-----END PRIVATE KEY-----\nmid\n"
        "-----BEGIN PRIVATE KEY-----\nb\n-----END PRIVATE KEY-----",
        f"{REDACTED}\nmid\n{REDACTED}",
    ),
    ("authorization bearer header", "Authorization: Bearer abc.def.ghi-123", f"Authorization: {REDACTED}"),
    (
        "authorization token header",
        "-H 'authorization: token 0123456789abc'",
        f"-H 'authorization: {REDACTED}'",
    ),
    ("authorization basic header", "Authorization: Basic dXNlcjpwYXNzd29yZA==", f"Authorization: {REDACTED}"),
    (
        "authorization in JSON",
        '{"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc"}',
        f'{{"Authorization": "{REDACTED}"}}',
    ),
    ("bare bearer token", "use bearer 0123456789abcdefXYZ now", f"use {REDACTED} now"),
]
INNOCENT = [
    "ghp_short is not a token",
    "the bearer of good news",
    "Bearer authentication is described in RFC 6750",
    "sk-ant- alone",
    "AKIA1234",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    "authorization_code=abc123456",
    "Edit src/trader/orders.rs",
    "Bash: cargo test",
    "",
]


@pytest.mark.parametrize(("text", "expected"), [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_credential_is_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("secret", "text", "expected"),
    [
        ("the-api-key-value", "key is the-api-key-value.", f"key is {REDACTED}."),
        ('quote"d-secret', 'json: "quote\\"d-secret"', f'json: "{REDACTED}"'),
        (
            "line one of the key material\nline two of the key material",
            "only line two of the key material leaked",
            f"only {REDACTED} leaked",
        ),
        ("short", "short stays: too short to be a secret", "short stays: too short to be a secret"),
    ],
    ids=["literal", "JSON-escaped", "one line of a multi-line secret", "too short to redact"],
)
def test_the_runs_own_secret_values_are_redacted(secret: str, text: str, expected: str) -> None:
    assert redact(text, Secrets.of([secret, None, ""])) == expected


def test_no_secrets_compiles_to_nothing() -> None:
    assert Secrets.of([None, "", "short"]).pattern is None


def test_redact_value_walks_json_like_values() -> None:
    value = {"progress": {"tail": ["ok", "ghs_FAKEfakeFAKEfake0123456789abcdefABCD"], "turns": 3}, "n": None}
    assert redact_value(value) == {"progress": {"tail": ["ok", REDACTED], "turns": 3}, "n": None}
    assert redact_value(("sk-ant-api03-abcdefghijk",)) == [REDACTED]


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.jsonl")), ids=lambda p: p.stem)
def test_planted_secrets_of_the_real_transcripts_never_survive(path: Path) -> None:
    text = path.read_text()
    assert all(secret in text for secret in PLANTED)  # the fixture still holds them
    redacted_lines = [redact(line) for line in text.splitlines()]
    for line in redacted_lines:
        json.loads(line)  # still a JSON line: the parser reads it as the CLI wrote it
        assert not any(secret in line for secret in PLANTED)
        for value in _strings(json.loads(line)):
            assert not any(secret in value for secret in PLANTED)
    whole = redact(text)
    assert not any(secret in whole for secret in PLANTED)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


TOKENS = st.one_of(
    st.from_regex(r"gh[pousr]_[A-Za-z0-9]{36}", fullmatch=True),
    st.from_regex(r"github_pat_[A-Za-z0-9_]{82}", fullmatch=True),
    st.from_regex(r"sk-ant-api03-[A-Za-z0-9_-]{40,95}", fullmatch=True),
    st.from_regex(r"AKIA[A-Z0-9]{16}", fullmatch=True),
    st.builds(
        lambda kind, body: f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----",
        st.sampled_from(["", "RSA ", "EC ", "OPENSSH "]),
        st.from_regex(r"[A-Za-z0-9+/=\n]{1,200}", fullmatch=True),
    ),
)


@given(before=st.text(), token=TOKENS, after=st.text())
def test_a_credential_never_survives_whatever_surrounds_it(before: str, token: str, after: str) -> None:
    assert token not in redact(before + token + after)


@given(before=st.text(), token=TOKENS, after=st.text())
def test_a_json_escaped_credential_never_survives(before: str, token: str, after: str) -> None:
    line = json.dumps({"content": before + token + after})
    assert json.dumps(token)[1:-1] not in redact(line)


@given(st.text())
def test_redacting_twice_changes_nothing_more(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@given(secret=st.text(min_size=8).filter(lambda s: s.strip() and len(s.strip()) >= 8), around=st.text())
def test_a_literal_secret_never_survives(secret: str, around: str) -> None:
    assert secret.strip() not in redact(around + secret + around, Secrets.of([secret]))


def redact_stream(lines: list[str]) -> list[str]:
    in_key, out = False, []
    for line in lines:
        redacted, in_key = redact_stream_line(line, in_key)
        out.append(redacted)
    return out


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            [
                "cat key:",
                "-----BEGIN RSA PRIVATE KEY-----",
                "MIIEow",
                "AAAA",
                "-----END RSA PRIVATE KEY-----",
                "done",
            ],
            ["cat key:", REDACTED, REDACTED, REDACTED, REDACTED, "done"],
        ),
        (
            ["x -----BEGIN PRIVATE KEY-----", "MIIE", "-----END PRIVATE KEY----- after ghs_" + "a" * 36],
            [f"x {REDACTED}", REDACTED, f"{REDACTED} after {REDACTED}"],
        ),
        (["-----BEGIN EC PRIVATE KEY-----", '{"type":"user"}'], [REDACTED, '{"type":"user"}']),
        (
            ['{"c":"-----BEGIN RSA PRIVATE KEY-----\\nMIIE"}', "not a key line"],
            [f'{{"c":"{REDACTED}"}}', "not a key line"],
        ),
        (["-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----", "plain"], [REDACTED, "plain"]),
    ],
    ids=[
        "key printed over lines",
        "key inside lines",
        "a JSON line ends it",
        "key inside a JSON line",
        "whole key in one line",
    ],
)
def test_a_key_printed_over_several_lines_of_a_log_is_redacted_whole(
    lines: list[str], expected: list[str]
) -> None:
    assert redact_stream(lines) == expected
