"""Reading the config file: paths in it are found beside it, wherever the command runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artreport.cli import app
from artreport.config import load_config
from artreport.errors import ConfigError
from artreport.sandbox import Sandbox
from tests.conftest import SAMPLES

ORGID = "ZJ3301001"
KEY = "config-test-key"
runner = CliRunner()


def test_relative_paths_in_the_config_are_beside_it(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "artreport.yaml"
    config.parent.mkdir()
    config.write_text("state_dir: state\nca_bundle: certs/hospital-ca.pem\n", encoding="utf-8")
    loaded = load_config(config)
    assert loaded.state_dir == str(tmp_path / "etc" / "state")
    assert loaded.ca_bundle == str(tmp_path / "etc" / "certs" / "hospital-ca.pem")


def test_absolute_paths_in_the_config_stay_as_written_and_home_paths_are_expanded(
    tmp_path: Path,
) -> None:
    """ca_bundle: ~/ca.pem went to the TLS library as written, which has no ~: "cannot read
    ~/ca.pem: No such file" for a file that is there."""
    config = tmp_path / "artreport.yaml"
    config.write_text("state_dir: /var/lib/artreport\nca_bundle: ~/ca.pem\n", encoding="utf-8")
    loaded = load_config(config)
    home_file = str(Path("~/ca.pem").expanduser())
    assert (loaded.state_dir, loaded.ca_bundle) == ("/var/lib/artreport", home_file)


def test_runs_from_two_folders_share_one_state_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARTREPORT_HOME")
    config = tmp_path / "etc" / "artreport.yaml"
    config.parent.mkdir()
    export = tmp_path / "cycles.csv"
    export.write_text(
        "周期ID,档案信息ID,方案,周期开始时间,周期次数,治疗状态\n"
        "CYC1,INF1,IVF,2023-05-06 08:30:00,1,1\n",
        encoding="utf-8",
    )
    with Sandbox({ORGID: KEY}) as sandbox:
        config.write_text(
            f"base_url: {sandbox.base_url}\norgid: {ORGID}\nkey: {KEY}\nstate_dir: state\n",
            encoding="utf-8",
        )
        for folder in ("a", "b"):  # cron's folder is not the one the config was written in
            (tmp_path / folder).mkdir()
            monkeypatch.chdir(tmp_path / folder)
            result = runner.invoke(
                app, ["--config", str(config), "push", "cycle", str(export), "--changed-only"]
            )
            assert result.exit_code == 0, result.output
    assert not (tmp_path / "a" / "state").exists() and not (tmp_path / "b" / "state").exists()
    assert (tmp_path / "etc" / "state" / "ledger.sqlite3").exists()
    # The second run knew what the first had sent.
    assert sandbox.stats()["endpoints"].get("/art/aCyclerecord/batchInsert") == 1


@pytest.mark.parametrize(
    ("written", "verify"),
    [("false", False), ('"false"', False), ("'no'", False), ('"true"', True), ("yes", True)],
)
def test_verify_written_as_a_word_means_that_word(
    tmp_path: Path, written: str, verify: bool
) -> None:
    # A quoted "false" is a non-empty string: bool() would have turned it into true.
    path = tmp_path / "artreport.yaml"
    path.write_text(f"verify: {written}\n", encoding="utf-8")
    assert load_config(path).verify is verify


def test_verify_that_is_no_yes_or_no_is_refused(tmp_path: Path) -> None:
    from artreport.errors import ConfigError

    path = tmp_path / "artreport.yaml"
    path.write_text('verify: "maybe"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.code == "config-bad-value"


def test_concurrency_above_what_push_allows_is_refused_from_the_config_too(
    tmp_path: Path,
) -> None:
    # sync takes it from the config alone: push --concurrency 99 is a usage error, and the
    # same number in the file must not open 99 connections to the platform every night.
    path = tmp_path / "artreport.yaml"
    path.write_text("base_url: http://127.0.0.1:9\norgid: ZJ3301001\nkey: k\nconcurrency: 33\n")
    path.chmod(0o600)
    result = CliRunner().invoke(
        app, ["--lang", "en", "--config", str(path), "sync", str(tmp_path), "--json"]
    )
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout) == {
        "error": "config-too-large",
        "message": "Config setting concurrency is 33, more than the 32 allowed.",
        "exit_code": 2,
    }
    path.write_text("concurrency: 32\n")
    assert load_config(path).concurrency == 32


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("012345", "012345"),
        ("yes", "yes"),
        ("12:30", "12:30"),
        ("0x1F", "0x1F"),
        ("1_000", "1_000"),
    ],
)
def test_the_key_is_read_as_written_whatever_yaml_makes_of_it(
    tmp_path: Path, written: str, meant: str
) -> None:
    """An unquoted key of digits with a leading zero is octal to YAML: 012345 was sent as
    5349, and the platform refused the login with "wrong key"."""
    config = tmp_path / "artreport.yaml"
    config.write_text(f"orgid: 3301001\nkey: {written}\n", encoding="utf-8")
    loaded = load_config(config)
    assert (loaded.key, loaded.orgid) == (meant, "3301001")


def test_a_language_other_than_zh_or_en_in_the_config_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text("lang: fr\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert caught.value.params["name"] == "lang"


def test_a_language_other_than_zh_or_en_in_the_environment_is_refused_as_in_the_config(
    tmp_path: Path,
) -> None:
    """ARTREPORT_LANG=xx in a crontab was ignored, the job speaking Chinese, while the same
    typo in --lang or in the config stops it: it stops it too, naming the variable, and a
    sync still says so in its summary file for the morning's monitor."""
    (tmp_path / "exports").mkdir()
    summary = tmp_path / "last.json"
    summary.write_text('{"exit_code": 0}', encoding="utf-8")
    result = runner.invoke(
        app,
        ["sync", str(tmp_path / "exports"), "--summary-json", str(summary)],
        env={"ARTREPORT_LANG": "xx"},
    )
    assert result.exit_code == 2, result.output
    assert "ARTREPORT_LANG" in result.output and "xx" in result.output
    written = json.loads(summary.read_text(encoding="utf-8"))
    assert (written["exit_code"], written["error_code"]) == (2, "config-bad-value")
    assert runner.invoke(app, ["history"], env={"ARTREPORT_LANG": "EN"}).exit_code == 0


def test_broken_yaml_is_named_by_line_without_quoting_it(tmp_path: Path) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text("orgid: ZJ3301001\nkey: s3cret\n timeout: 5\n", encoding="utf-8")
    for lang, where in (("zh", "第 3 行"), ("en", "line 3")):
        result = runner.invoke(app, ["--lang", lang, "--config", str(config), "login"])
        assert result.exit_code == 2
        assert "s3cret" not in result.output
        assert where in result.output and "YAML" in result.output


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # YAML notices a missing colon on the line after, or past the end of the file; an
        # unclosed quote or bracket at the end of the file.
        ("base_url: https://x\norgid ZJ3301001\nkey: s3cret\n", 2),
        ("orgid: ZJ3301001\nkey: s3cret\ntimeout: 5\nlang zh\n", 4),
        ("orgid: ZJ3301001\nlang zh\n\n\n", 2),
        ('orgid: ZJ3301001\ntimeout: 5\nkey: "s3cret\nlang: zh\n', 3),
        ("orgid: ZJ3301001\nsync_patterns: [cycle*.csv\nkey: s3cret\n", 2),
        ("orgid: ZJ3301001\nsync_patterns: [cycle*.csv,\n\n", 2),
    ],
)
def test_broken_yaml_is_named_by_the_line_at_fault(tmp_path: Path, text: str, line: int) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert (caught.value.code, caught.value.params["line"]) == ("config-bad-yaml", line)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_config_holding_the_key_readable_by_others_is_warned_about(tmp_path: Path) -> None:
    """Only doctor said so: the clerk who never runs it left the key readable by all."""
    config = tmp_path / "artreport.yaml"
    for key, mode, warned in ((KEY, 0o644, True), (KEY, 0o600, False), ("0000", 0o644, True)):
        config.write_text(f"orgid: {ORGID}\nkey: {key}\n", encoding="utf-8")
        config.chmod(mode)
        arguments = ["push", "cycle", str(SAMPLES / "cycles.xlsx"), "--dry-run"]
        result = runner.invoke(app, ["--lang", "en", "--config", str(config), *arguments])
        assert result.exit_code == 0, result.output
        assert ("chmod 600" in result.stderr) is warned, result.stderr
        assert KEY not in result.output


def test_the_example_config_names_every_setting() -> None:
    """The unknown-setting warning sends the user to config.example.yaml for the list of
    settings; sync_patterns was missing from it."""
    import dataclasses

    from artreport.config import Config

    example = (Path(__file__).parent.parent / "config.example.yaml").read_text(encoding="utf-8")
    internal = {"source", "unknown_settings", "repeated_settings"}
    for setting in dataclasses.fields(Config):
        if setting.name not in internal:
            assert f"{setting.name}:" in example, setting.name


# -- the config file as an IT person writes it on a hospital's Windows machine ----------------

_SETTINGS_WITH_COMMENTS = (
    "# 平台地址（信息科填写）\n"
    "base_url: https://platform.example.invalid/api\n"
    "# 机构ID\n"
    "orgid: ZJ3301001\n"
    f"key: {KEY}\n"
    "state_dir: 上报状态\n"
)


@pytest.mark.parametrize(
    "saved",
    [
        _SETTINGS_WITH_COMMENTS.encode("gbk"),  # Notepad's "ANSI" on a Chinese Windows
        _SETTINGS_WITH_COMMENTS.encode("utf-16"),  # older Notepad's "Unicode": LE, with a BOM
        b"\xfe\xff" + _SETTINGS_WITH_COMMENTS.encode("utf-16-be"),
        b"\xef\xbb\xbf" + _SETTINGS_WITH_COMMENTS.replace("\n", "\r\n").encode("utf-8"),
        _SETTINGS_WITH_COMMENTS.replace("\n", "\r").encode("utf-8"),
    ],
    ids=["gbk", "utf-16-le", "utf-16-be", "utf-8-bom-crlf", "cr"],
)
def test_a_config_saved_by_a_windows_editor_is_read(tmp_path: Path, saved: bytes) -> None:
    """A GBK or UTF-16 config ended on "cannot read the config file: UnicodeDecodeError"."""
    config = tmp_path / "artreport.yaml"
    config.write_bytes(saved)
    loaded = load_config(config)
    assert (loaded.orgid, loaded.key) == ("ZJ3301001", KEY)
    assert loaded.state_dir == str(tmp_path / "上报状态")


@pytest.mark.parametrize(
    ("written", "code", "line"),
    [
        (f"orgid: ZJ3301001\nkey: {KEY}\ndictionaries:\n\tchildbirthtype: {{1: a}}\n", "tab", 4),
        ("\torgid: ZJ3301001\n", "tab", 1),
        (f'orgid: ZJ3301001\nkey: {KEY}\nca_bundle: "C:\\certs\\ca.pem"\n', "backslash", 3),
        (f"orgid： ZJ3301001\nkey： {KEY}\n", "fullwidth-colon", 1),
        (f"base_url: https://x\norgid：ZJ3301001\nkey: {KEY}\n", "fullwidth-colon", 2),
        (f"# 配置\nbase_url:https://x\norgid:ZJ3301001\nkey:{KEY}\n", "colon-space", 2),
        (f"orgid:\u00a0ZJ3301001\nkey: {KEY}\n", "odd-space", 1),
        (f"orgid:ZJ3301001\n\n# the key\nkey: {KEY}\n", "colon-space", 1),
        ("orgid: ZJ3301001\nkey: @k3y\n", "quote-value", 2),
        ("orgid: ZJ3301001\nkey: %k3y\n", "quote-value", 2),
    ],
)
def test_a_config_line_yaml_cannot_read_is_named_with_what_to_change(
    tmp_path: Path, written: str, code: str, line: int
) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text(written, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert (caught.value.code, caught.value.params["line"]) == (f"config-yaml-{code}", line)


@pytest.mark.parametrize(
    ("saved", "code", "line"),
    [
        (b"orgid: ZJ3301001\nkey: k\n# \xff\xfe\xff\n", "config-encoding", 3),
        (b"orgid: ZJ3301001\nkey: k\x07\n", "config-bad-character", 2),
        # UTF-16 without its byte order mark: every other byte is a NUL.
        ("orgid: ZJ3301001\n".encode("utf-16-le"), "config-bad-character", 1),
    ],
)
def test_a_config_in_an_unreadable_encoding_is_named_by_line(
    tmp_path: Path, saved: bytes, code: str, line: int
) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_bytes(saved)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert (caught.value.code, caught.value.params["line"]) == (code, line)


@pytest.mark.parametrize("written", ["just some text\n", "- orgid\n- key\n"])
def test_a_config_that_is_no_settings_says_how_settings_are_written(
    tmp_path: Path, written: str
) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text(written, encoding="utf-8")
    for lang, words in (("zh", "名称: 值"), ("en", "'name: value'")):
        result = runner.invoke(app, ["--lang", lang, "--config", str(config), "login"])
        assert result.exit_code == 2, result.output
        assert words in result.output and "not a mapping" not in result.output


def test_broken_config_lines_are_told_in_the_users_language_without_the_key(
    tmp_path: Path,
) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text(f"orgid: ZJ3301001\n\tkey: {KEY}\n", encoding="utf-8")
    for lang, words in (("zh", "第 2 行（第 1 列附近）用 Tab 键缩进了"), ("en", "line 2")):
        result = runner.invoke(app, ["--lang", lang, "--config", str(config), "login"])
        assert result.exit_code == 2, result.output
        assert words in result.output and KEY not in result.output
        assert "Traceback" not in result.output


def test_a_windows_path_in_double_quotes_is_refused_not_made_a_folder(tmp_path: Path) -> None:
    """ "C:\\new\\table" is C:, a line break, ew, a tab and able to YAML: the state folder was
    made under that name beside the config, and the ledger with it."""
    config = tmp_path / "artreport.yaml"
    config.write_text('state_dir: "C:\\new\\table"\n', encoding="utf-8")
    result = runner.invoke(app, ["--lang", "en", "--config", str(config), "history"])
    assert result.exit_code == 2, result.output
    assert "state_dir" in result.output and "single quotes" in result.output
    assert [path.name for path in tmp_path.iterdir()] == ["artreport.yaml"]


@pytest.mark.parametrize(
    "written", ["key: [k3y-in-a-list]", "key: {k3y: in-a-map}", 'key: "k\\ty"']
)
def test_a_key_that_is_no_plain_text_is_refused_without_showing_it(
    tmp_path: Path, written: str
) -> None:
    """key: [abc] was sent as the text "['abc']", and the platform said the key was wrong."""
    config = tmp_path / "artreport.yaml"
    config.write_text(f"orgid: ZJ3301001\n{written}\n", encoding="utf-8")
    result = runner.invoke(app, ["--config", str(config), "login"])
    assert result.exit_code == 2, result.output
    assert (
        "配置项 key" in result.output and "k3y" not in result.output and "k\ty" not in result.output
    )


def test_environment_variables_in_a_config_path_are_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$HOME/state and %LOCALAPPDATA%\\artreport were folders of those names beside the config."""
    monkeypatch.setenv("ART_TEST_ROOT", str(tmp_path / "root"))
    config = tmp_path / "artreport.yaml"
    config.write_text(
        "state_dir: ${ART_TEST_ROOT}/state\nca_bundle: '%ART_TEST_ROOT%/ca.pem'\n"
        "dictionaries: $ART_TEST_ROOT/codes.csv\n",
        encoding="utf-8",
    )
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "codes.csv").write_text("field,code,label\n", encoding="utf-8")
    loaded = load_config(config)
    assert loaded.state_dir == str(tmp_path / "root" / "state")
    assert loaded.ca_bundle == str(tmp_path / "root" / "ca.pem")


def test_an_unset_variable_in_a_config_path_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ART_TEST_UNSET", raising=False)
    config = tmp_path / "artreport.yaml"
    config.write_text("state_dir: '%ART_TEST_UNSET%\\artreport'\n", encoding="utf-8")
    result = runner.invoke(app, ["--lang", "en", "--config", str(config), "history"])
    assert result.exit_code == 2, result.output
    assert "state_dir" in result.output and "%ART_TEST_UNSET%" in result.output
    assert [path.name for path in tmp_path.iterdir()] == ["artreport.yaml"]


def test_spaces_around_a_value_are_no_part_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quoted "ZJ3301001 " logged in as an organisation the platform does not know, and
    Windows' `set ARTREPORT_KEY=abc ` keeps the space before the end of the line."""
    config = tmp_path / "artreport.yaml"
    config.write_text(
        'base_url: "https://x.invalid/api "\norgid: "ZJ3301001 "\nlang: " en"\n', encoding="utf-8"
    )
    monkeypatch.setenv("ARTREPORT_KEY", f"{KEY} ")
    loaded = load_config(config)
    assert (loaded.base_url, loaded.orgid, loaded.key, loaded.lang) == (
        "https://x.invalid/api",
        "ZJ3301001",
        KEY,
        "en",
    )


def test_an_empty_state_dir_is_the_default_not_the_config_folder(tmp_path: Path) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text("state_dir: ''\nca_bundle: ' '\n", encoding="utf-8")
    loaded = load_config(config)
    assert (loaded.state_dir, loaded.ca_bundle) == (None, None)


def test_a_full_width_space_before_a_setting_is_no_part_of_its_name(tmp_path: Path) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text("\u3000orgid: ZJ3301001\n", encoding="utf-8")
    loaded = load_config(config)
    assert (loaded.orgid, loaded.unknown_settings) == ("ZJ3301001", ())


def test_one_sync_pattern_without_brackets_is_that_pattern(tmp_path: Path) -> None:
    config = tmp_path / "artreport.yaml"
    config.write_text("sync_patterns:\n  cycle: HIS_zq_*.csv\n", encoding="utf-8")
    assert load_config(config).sync_patterns == {"cycle": ["HIS_zq_*.csv"]}


def test_a_setting_written_twice_is_warned_about_by_line(tmp_path: Path) -> None:
    """The key pasted at the top of a copied example lost to the example's own further down:
    the login failed with "wrong key" and nothing pointed at the second line."""
    config = tmp_path / "artreport.yaml"
    config.write_text(
        f"key: {KEY}\norgid: {ORGID}\n# Your key\nkey: replace-with-your-key\n", encoding="utf-8"
    )
    config.chmod(0o600)
    arguments = ["push", "cycle", str(SAMPLES / "cycles.xlsx"), "--dry-run"]
    result = runner.invoke(app, ["--lang", "en", "--config", str(config), *arguments])
    assert result.exit_code == 0, result.output
    assert "key (1/4)" in result.stderr and "written more than once" in result.stderr
    assert KEY not in result.output and "replace-with" not in result.output
