"""``artreport doctor`` against the sandbox, over HTTP and over HTTPS with certificates made
here, and the sandbox's ``--tls``."""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from artreport import doctor
from artreport.cli import app
from artreport.config import load_config
from artreport.sandbox import DEMO_ORG, Sandbox, token_for

ORGID, KEY = DEMO_ORG
NOW = datetime.now(timezone.utc)

HAVE_CRYPTOGRAPHY = importlib.util.find_spec("cryptography") is not None
OPENSSL = shutil.which("openssl")
needs_certificates = pytest.mark.skipif(
    not (HAVE_CRYPTOGRAPHY or OPENSSL),
    reason="making test certificates needs the cryptography package or the openssl command, "
    "and neither is installed",
)
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


# -- certificates ------------------------------------------------------------------------------


def make_certificate(
    directory: Path,
    stem: str,
    *,
    san: tuple[str, str] = ("IP", "127.0.0.1"),
    valid: tuple[datetime, datetime] = (NOW - timedelta(days=1), NOW + timedelta(days=30)),
) -> tuple[Path, Path]:
    """A self-signed certificate, its own authority (as a hospital's CA file would be), and
    its key, as PEM files. ``san`` is ``("IP", address)`` or ``("DNS", name)``."""
    cert, key = directory / f"{stem}.crt", directory / f"{stem}.key"
    if HAVE_CRYPTOGRAPHY:
        _with_cryptography(cert, key, san, valid)
    else:
        _with_openssl(cert, key, san, valid)
    return cert, key


def _with_cryptography(
    cert: Path, key: Path, san: tuple[str, str], valid: tuple[datetime, datetime]
) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "artreport test")])
    kind, value = san
    alternative = (
        x509.IPAddress(ipaddress.ip_address(value)) if kind == "IP" else x509.DNSName(value)
    )
    identifier = x509.SubjectKeyIdentifier.from_public_key(private.public_key())
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(identifier, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(identifier),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName([alternative]), critical=False)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(built.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _with_openssl(
    cert: Path, key: Path, san: tuple[str, str], valid: tuple[datetime, datetime]
) -> None:
    # `openssl ca` rather than `req -x509`: only it takes explicit dates, needed for an
    # expired certificate. Its bookkeeping files go into a folder of their own.
    work = cert.parent / f"{cert.stem}-ca"
    work.mkdir()
    (work / "index.txt").write_text("")
    (work / "serial").write_text("01\n")
    (work / "ca.cnf").write_text(
        "[ca]\ndefault_ca = test\n"
        "[test]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n"
        "default_md = sha256\npolicy = policy\nx509_extensions = extensions\n"
        "[policy]\ncommonName = supplied\n"
        "[extensions]\nbasicConstraints = critical,CA:true\n"
        "keyUsage = critical,digitalSignature,keyCertSign\n"
        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n"
        f"subjectAltName = {san[0]}:{san[1]}\n"
    )
    assert OPENSSL is not None

    def run(*args: str | Path) -> None:
        subprocess.run(
            [OPENSSL, *map(str, args)], cwd=work, check=True, capture_output=True, timeout=60
        )

    run(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key.resolve(), "-out", "request.csr", "-subj", "/CN=artreport test",
    )  # fmt: skip
    run(
        "ca", "-batch", "-selfsign", "-config", "ca.cnf", "-keyfile", key.resolve(),
        "-in", "request.csr", "-out", cert.resolve(), "-notext",
        "-startdate", valid[0].strftime("%Y%m%d%H%M%SZ"),
        "-enddate", valid[1].strftime("%Y%m%d%H%M%SZ"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    if not (HAVE_CRYPTOGRAPHY or OPENSSL):
        pytest.skip("making test certificates needs the cryptography package or openssl")
    directory = tmp_path_factory.mktemp("certificates")
    return {
        "good": make_certificate(directory, "good"),
        "expired": make_certificate(
            directory, "expired", valid=(NOW - timedelta(days=60), NOW - timedelta(days=30))
        ),
        "other-name": make_certificate(directory, "other-name", san=("DNS", "platform.invalid")),
    }


# -- running doctor ----------------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def https_sandbox(certificates: dict[str, tuple[Path, Path]]) -> Iterator[Sandbox]:
    with Sandbox(tls=certificates["good"]) as running:
        yield running


def write_config(directory: Path, mode: int = 0o600, **settings: Any) -> Path:
    values = {"orgid": ORGID, "key": KEY, "timeout": 5, **settings}
    path = directory / "artreport.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    path.chmod(mode)
    return path


def run_doctor(config: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--lang", "en", "--config", str(config), "doctor", *args])


def checks_of(result: Any) -> dict[str, dict[str, Any]]:
    payload = json.loads(result.output)
    assert [check["name"] for check in payload["checks"]] == list(doctor.CHECKS)
    return {check["name"]: check for check in payload["checks"]}


def statuses(checks: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: check["status"] for name, check in checks.items()}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- over HTTP ---------------------------------------------------------------------------------


def test_good_config_passes_with_only_the_https_warning(tmp_path: Path, sandbox: Sandbox) -> None:
    config = write_config(tmp_path, base_url=sandbox.base_url)
    started = time.monotonic()
    result = run_doctor(config)
    assert time.monotonic() - started < 10
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(doctor.CHECKS) + 1
    assert [line[0] for line in lines[:-1]] == ["✓", "✓", "✓", "!", "✓", "✓", "✓"]
    assert lines[0].startswith(f"✓ Config: {config}")
    assert sandbox.base_url in lines[0] and ORGID in lines[0]
    assert "production must use HTTPS" in lines[3]
    assert "Logged in to the platform as organisation ZJ3301001" in lines[4]
    assert "from the platform's time" in lines[5]
    assert lines[-1] == "Nothing failed. Warnings: 1 (the lines marked ! above)."
    assert KEY not in result.output
    assert token_for(ORGID, KEY) not in result.output.upper()


def test_json_output_parses_and_names_each_check(tmp_path: Path, sandbox: Sandbox) -> None:
    result = run_doctor(write_config(tmp_path, base_url=sandbox.base_url), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["ok"] is True
    checks = checks_of(result)
    assert statuses(checks) == {
        "config": "ok",
        "key-file": "ok",
        "connect": "ok",
        "tls": "warning",
        "login": "ok",
        "clock": "ok",
        "state-dir": "ok",
    }
    assert checks["tls"]["code"] == "doctor-tls-plain-http"
    assert checks["config"]["params"]["orgid"] == ORGID
    assert checks["state-dir"]["params"]["path"] == os.environ["ARTREPORT_HOME"]
    assert KEY not in result.output


def test_wrong_key_fails_the_login_with_the_platforms_message(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    wrong = "not-the-issued-key-7731"
    result = run_doctor(write_config(tmp_path, base_url=sandbox.base_url, key=wrong), "--json")
    assert result.exit_code == 1
    login = checks_of(result)["login"]
    assert login["status"] == "failed"
    assert login["code"] == "client-auth-bad-key"
    assert "校验失败，请检查校验码" in login["message"]  # the sandbox's words, as the platform's
    assert wrong not in result.output


def test_closed_port_fails_the_connection_and_skips_what_needs_it(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, base_url=f"http://127.0.0.1:{port}")
    result = run_doctor(config)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[2].startswith(f"✗ Network: Cannot connect to 127.0.0.1 on port {port}")
    assert "firewall" in lines[2]
    assert lines[3] == "- Secure connection (TLS): Not checked: the platform cannot be reached."
    assert lines[4] == "- Login: Not checked: the platform cannot be reached."
    # Only the year could be judged: no tick that would read as "agrees with the platform".
    assert lines[5].startswith("- Clock:") and "platform could not be reached" in lines[5]
    assert lines[-1].startswith("Checks failed: 1.")


def test_missing_settings_are_named_and_login_is_skipped(tmp_path: Path, sandbox: Sandbox) -> None:
    path = tmp_path / "artreport.yaml"
    path.write_text(f"base_url: {sandbox.base_url}\norgid: {ORGID}\n", encoding="utf-8")
    result = run_doctor(path, "--json")
    assert result.exit_code == 1
    checks = checks_of(result)
    assert checks["config"]["code"] == "doctor-config-incomplete"
    assert checks["config"]["params"]["names"] == "key"
    assert checks["connect"]["status"] == "ok"
    assert checks["login"]["status"] == "skipped"
    assert checks["login"]["code"] == "doctor-skipped-credentials"


def test_config_file_not_found_skips_everything_else(tmp_path: Path) -> None:
    result = run_doctor(tmp_path / "nowhere.yaml", "--json")
    assert result.exit_code == 1
    checks = checks_of(result)
    assert checks["config"]["code"] == "config-not-found"
    assert {checks[name]["status"] for name in doctor.CHECKS[1:]} == {"skipped"}


def test_no_config_at_all_names_the_environment_variables_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARTREPORT_ORGID", ORGID)
    result = CliRunner().invoke(app, ["--lang", "en", "doctor"])
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith("✗ Config: No config file found")
    assert "the environment lacks: ARTREPORT_BASE_URL, ARTREPORT_KEY." in first


def test_environment_only_settings_are_reported_as_such(
    monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox
) -> None:
    monkeypatch.setenv("ARTREPORT_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("ARTREPORT_ORGID", ORGID)
    monkeypatch.setenv("ARTREPORT_KEY", KEY)
    result = CliRunner().invoke(app, ["--lang", "en", "doctor", "--json"])
    assert result.exit_code == 0, result.output
    checks = checks_of(result)
    assert checks["config"]["code"] == "doctor-config-env"
    assert checks["key-file"]["code"] == "doctor-key-no-file"


# -- the key file ------------------------------------------------------------------------------


@posix_only
def test_world_readable_config_holding_the_key_fails_with_the_chmod_fix(tmp_path: Path) -> None:
    config = write_config(tmp_path, mode=0o644, base_url=f"http://127.0.0.1:{free_port()}")
    result = run_doctor(config)
    assert result.exit_code == 1
    line = result.output.splitlines()[1]
    assert line.startswith(f"✗ Key file permissions: {config} holds the key")
    assert "(permissions 644)" in line
    assert line.endswith(f"→ Run: chmod 600 {config}")


@posix_only
def test_readable_config_without_the_key_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text(f"orgid: {ORGID}\nbase_url: http://127.0.0.1:{free_port()}\n")
    config.chmod(0o644)
    monkeypatch.setenv("ARTREPORT_KEY", KEY)
    checks = checks_of(run_doctor(config, "--json"))
    assert checks["key-file"]["status"] == "ok"
    assert checks["key-file"]["code"] == "doctor-key-not-in-file"


def test_key_file_check_is_skipped_with_a_note_on_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(doctor, "POSIX", False)
    config = write_config(tmp_path, mode=0o644, base_url=f"http://127.0.0.1:{free_port()}")
    check = checks_of(run_doctor(config, "--json"))["key-file"]
    assert check["status"] == "skipped"
    assert check["message"] == (
        f"Not checked on Windows: make sure only your account can open {config}."
    )


# -- the clock and the proxy -------------------------------------------------------------------


def clock_line(config: Path, clock: Any) -> doctor.Check:
    checks = list(doctor.diagnose(lambda: load_config(config), clock=clock))
    return next(check for check in checks if check.name == "clock")


def test_a_clock_an_hour_ahead_is_a_warning(tmp_path: Path, sandbox: Sandbox) -> None:
    config = write_config(tmp_path, base_url=sandbox.base_url)
    check = clock_line(config, lambda: time.time() + 3600)
    assert check.status is doctor.Status.WARNING
    assert check.code == "doctor-clock-ahead"
    assert check.params["minutes"] == 60


def test_a_clock_before_2024_fails(tmp_path: Path, sandbox: Sandbox) -> None:
    config = write_config(tmp_path, base_url=sandbox.base_url)
    check = clock_line(config, lambda: datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp())
    assert check.status is doctor.Status.FAILED
    assert check.hint == "doctor-hint-clock"


def test_with_a_proxy_the_connection_checked_is_the_proxys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy_port = free_port()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # The platform's name need not resolve here: only the proxy is dialled.
    checks = checks_of(
        run_doctor(write_config(tmp_path, base_url="https://platform.invalid"), "--json")
    )
    assert checks["connect"]["status"] == "failed"
    assert checks["connect"]["params"]["port"] == proxy_port
    assert "HTTPS_PROXY" in checks["connect"]["hint"]


def test_a_proxy_asking_for_a_login_is_named_with_the_setting_to_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxy_asking_for_login: Any
) -> None:
    """Its advice was to check that base_url starts with https:// and has the right port."""
    port, _ = proxy_asking_for_login
    monkeypatch.setenv("HTTPS_PROXY", f"http://someone:Proxy-Pa55@127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    result = run_doctor(write_config(tmp_path, base_url="https://platform.invalid"), "--json")
    checks = checks_of(result)
    assert checks["tls"]["code"] == "doctor-proxy-refused"
    assert f"The proxy 127.0.0.1:{port} (from HTTPS_PROXY)" in checks["tls"]["message"]
    assert "407" in checks["tls"]["message"]
    assert "user name and password into HTTPS_PROXY" in checks["tls"]["hint"]
    assert "base_url" not in checks["tls"]["hint"]
    assert "Proxy-Pa55" not in result.output


# -- over HTTPS --------------------------------------------------------------------------------


@needs_certificates
def test_https_with_the_ca_bundle_verifies_and_logs_in(
    tmp_path: Path, https_sandbox: Sandbox, certificates: dict[str, tuple[Path, Path]]
) -> None:
    assert https_sandbox.base_url.startswith("https://127.0.0.1:")
    cert = certificates["good"][0]
    result = run_doctor(
        write_config(tmp_path, base_url=https_sandbox.base_url, ca_bundle=str(cert))
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[3] == (
        f"✓ Secure connection (TLS): The platform's certificate is valid and issued by the "
        f"certificate authority in {cert} (ca_bundle)."
    )
    assert lines[4].startswith("✓ Login:")
    assert lines[-1] == "All checks passed."


@needs_certificates
def test_self_signed_without_ca_bundle_fails_naming_the_unknown_authority(
    tmp_path: Path, https_sandbox: Sandbox
) -> None:
    result = run_doctor(write_config(tmp_path, base_url=https_sandbox.base_url), "--json")
    assert result.exit_code == 1
    checks = checks_of(result)
    assert checks["tls"]["status"] == "failed"
    assert checks["tls"]["code"] == "doctor-tls-unknown-authority"
    assert "self-signed" in checks["tls"]["message"]
    assert "set ca_bundle in the config" in checks["tls"]["hint"]
    assert checks["login"]["code"] == "doctor-skipped-tls"


@needs_certificates
def test_expired_certificate_fails_naming_the_expiry(
    tmp_path: Path, certificates: dict[str, tuple[Path, Path]]
) -> None:
    cert = certificates["expired"][0]
    with Sandbox(tls=certificates["expired"]) as running:
        config = write_config(tmp_path, base_url=running.base_url, ca_bundle=str(cert))
        result = run_doctor(config)
    assert result.exit_code == 1
    line = result.output.splitlines()[3]
    assert line.startswith("✗ Secure connection (TLS): The platform's certificate has expired")
    assert "tell the platform's engineers" in line


@needs_certificates
def test_certificate_for_another_name_fails_naming_the_mismatch(
    tmp_path: Path, certificates: dict[str, tuple[Path, Path]]
) -> None:
    cert = certificates["other-name"][0]
    with Sandbox(tls=certificates["other-name"]) as running:
        config = write_config(tmp_path, base_url=running.base_url, ca_bundle=str(cert))
        checks = checks_of(run_doctor(config, "--json"))
    assert checks["tls"]["code"] == "doctor-tls-name-mismatch"
    assert "not made out for 127.0.0.1" in checks["tls"]["message"]


@needs_certificates
@pytest.mark.parametrize(
    ("certificate", "said"),
    [
        (
            "expired",
            "certificate has expired. If this computer's date is right, tell the platform's",
        ),
        ("other-name", "not made out for 127.0.0.1"),
    ],
)
def test_a_push_meeting_a_bad_certificate_gets_doctors_diagnosis(
    certificates: dict[str, tuple[Path, Path]], certificate: str, said: str
) -> None:
    """ca_bundle is set, and right: push advised setting it all the same."""
    from artreport.client import PlatformClient
    from artreport.config import Config
    from artreport.errors import UnreachableError

    cert = certificates[certificate][0]
    with Sandbox(tls=certificates[certificate]) as running:
        config = Config(
            base_url=running.base_url, orgid=ORGID, key=KEY, ca_bundle=str(cert), timeout=5
        )
        with PlatformClient(config) as client, pytest.raises(UnreachableError) as caught:
            client.login()
    assert caught.value.code == "client-certificate-rejected"
    message = caught.value.message("en")
    assert said in message
    assert "ca_bundle" not in message
    assert "证书" in caught.value.message("zh")


@needs_certificates
def test_verify_false_is_a_warning(tmp_path: Path, https_sandbox: Sandbox) -> None:
    config = write_config(tmp_path, base_url=https_sandbox.base_url, verify=False)
    result = run_doctor(config, "--json")
    assert result.exit_code == 0, result.output
    checks = checks_of(result)
    assert checks["tls"]["status"] == "warning"
    assert checks["tls"]["code"] == "doctor-tls-unverified"
    assert checks["login"]["status"] == "ok"


@needs_certificates
def test_push_and_sync_warn_of_verify_false_on_every_run(
    tmp_path: Path, https_sandbox: Sandbox
) -> None:
    """Only doctor said so: a nightly job so configured sent the key to whoever answered,
    without a word."""
    from artreport.fakedata import fake_rows, write_rows
    from artreport.schema import load_schema

    cycle = load_schema().get("cycle")
    exports = tmp_path / "exports"
    exports.mkdir()
    write_rows(exports / "cycle.csv", cycle, fake_rows(cycle, 3, orgid=ORGID))
    config = write_config(tmp_path, base_url=https_sandbox.base_url, verify=False)
    summary = tmp_path / "summary.json"
    runs = [
        ["push", "cycle", str(exports / "cycle.csv"), "--json"],
        ["sync", str(exports), "--full", "--summary-json", str(summary)],
    ]
    for arguments in runs:
        result = CliRunner().invoke(app, ["--lang", "en", "--config", str(config), *arguments])
        assert result.exit_code == 0, result.output
        assert "turns off the certificate check" in result.stderr
    warnings = json.loads(summary.read_text(encoding="utf-8"))["warnings"]
    assert any("Remove verify: false" in warning for warning in warnings), warnings


def test_https_address_of_a_plain_http_server_fails_the_handshake(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    config = write_config(tmp_path, base_url=sandbox.base_url.replace("http:", "https:"))
    checks = checks_of(run_doctor(config, "--json"))
    assert checks["tls"]["code"] == "doctor-tls-handshake-failed"
    assert "https://" in checks["tls"]["hint"]


# -- the sandbox's TLS -------------------------------------------------------------------------


@needs_certificates
def test_clients_failing_the_handshake_hold_up_no_one_and_print_nothing(
    https_sandbox: Sandbox, certificates: dict[str, tuple[Path, Path]], capfd: Any
) -> None:
    port = int(https_sandbox.base_url.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5),  # says nothing at all
        socket.create_connection(("127.0.0.1", port), timeout=5) as plain,
    ):
        plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP on the TLS port
        body = {"key": KEY, "orgid": ORGID, "token": token_for(ORGID, KEY)}
        answer = httpx.post(
            https_sandbox.base_url + "/art/login",
            json=body,
            verify=ssl.create_default_context(cafile=certificates["good"][0]),
            timeout=5,
        )
        assert answer.json()["code"] == 0
        try:
            reply = plain.recv(1024)
        except ConnectionResetError:
            reply = b""
        assert not reply.startswith(b"HTTP")
        started = time.monotonic()
        https_sandbox.stop()  # ends the silent client's handshake too
        assert time.monotonic() - started < 5
    assert "Traceback" not in capfd.readouterr().err


def test_unusable_certificate_files_are_a_usage_error(tmp_path: Path) -> None:
    cert, key = tmp_path / "missing.crt", tmp_path / "missing.key"
    result = CliRunner().invoke(
        app, ["--lang", "en", "sandbox", "--port", "0", "--tls", str(cert), str(key)]
    )
    assert result.exit_code == 2
    assert f"Cannot serve HTTPS with certificate {cert} and key {key}" in result.output


@needs_certificates
def test_sandbox_command_serves_https_with_tls_option(
    tmp_path: Path, certificates: dict[str, tuple[Path, Path]]
) -> None:
    cert, key = certificates["good"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ARTREPORT_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "artreport", "--lang", "en", "sandbox", "--port", "0",
         "--tls", str(cert), str(key)],
        cwd=tmp_path,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        found = re.search(r"https://127\.0\.0\.1:[0-9]+", process.stdout.readline())
        assert found is not None
        config = write_config(tmp_path, base_url=found.group(0), ca_bundle=str(cert))
        result = run_doctor(config, "--json")
        assert result.exit_code == 0, result.output
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.parametrize("key", [KEY, None], ids=["with-key", "without-key"])
def test_a_plain_http_platform_that_never_answers_fails_the_login_not_tls(
    tmp_path: Path, key: str | None
) -> None:
    """The connection is accepted (the system does that for a listening socket) but nothing
    answers. An http:// address has no TLS to blame: its line stays the plain-http warning, and
    the silence is the login's, which waits for the answer, even with no key to log in with."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        config = write_config(tmp_path, base_url=f"http://127.0.0.1:{port}", timeout=0.5, key=key)
        result = run_doctor(config)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[2] == f"✓ Network: 127.0.0.1, port {port}: accepts connections."
    assert lines[3].startswith(
        "! Secure connection (TLS): The platform address starts with http://, so the connection"
        " is not encrypted."
    )
    assert lines[4].startswith("✗ Login: 127.0.0.1 did not answer within 0.5 s. → ")
    assert "the port in base_url" in lines[4]
    assert "TLS" not in lines[4] and "https" not in lines[4]


def test_a_logs_folder_runs_cannot_write_in_fails_the_state_check(tmp_path: Path) -> None:
    """The top folder was writable and doctor said so, while every run failed on its logs/
    (made by another user). Root writes through permissions: a file stands in for the folder."""
    (Path(os.environ["ARTREPORT_HOME"]) / "logs").write_text("not a folder", encoding="utf-8")
    result = run_doctor(write_config(tmp_path, base_url="http://127.0.0.1:9"), "--json")
    check = checks_of(result)["state-dir"]
    assert check["status"] == "failed"
    assert check["params"]["path"].endswith("logs")
