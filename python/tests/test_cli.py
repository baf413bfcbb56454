"""The command line: flags parse like `pingpong server`'s, bad ones get clear
errors, missing certificates name the file and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pingpong_server.cli import build_parser, main, parse_listen


def test_listen_addresses() -> None:
    assert parse_listen("[::]:4433") == ("::", 4433)
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen("[fe80::1]:9") == ("fe80::1", 9)


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--listen", "nonsense"], "is not HOST:PORT"),
        (["--listen", "127.0.0.1:99999"], "out of range"),
        (["--path", "pingpong"], "starts with '/'"),
        (["--drain-timeout", "-1"], "cannot be negative"),
        (["--max-sessions", "0"], "at least 1"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_flags_are_refused_with_a_reason(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert complaint in capsys.readouterr().err


def test_defaults_match_the_rust_server() -> None:
    args = build_parser().parse_args([])
    assert args.listen == ("::", 4433)
    assert args.path == "/pingpong"
    assert args.max_sessions == 10_000
    assert args.drain_timeout == 5.0
    assert not args.no_mdns


def test_missing_certificates_name_the_file_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINGPONG_HOME", str(tmp_path))
    assert main(["--no-mdns", "--listen", "127.0.0.1:0"]) == 1
    err = capsys.readouterr().err
    assert f"certificate file {tmp_path / 'server.pem'} does not exist" in err
    assert "pingpong certs init" in err
