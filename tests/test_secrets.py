"""Secrets never in a log line, an error message or a command line."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gmwcrawler.redact import mask_url

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
# what a password may hold: "@", ":", "/", quotes, spaces, "%", non-ASCII — at least 6 characters, so that
# finding it in the masked text means it leaked (a 1-character password is in every host name)
SECRETS = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=6, max_size=30).filter(
    lambda s: s.strip() == s and "***" not in s)


@pytest.mark.parametrize(("url", "masked"), [
    ("redis://u:p@ss@h:6379/0", "redis://u:***@h:6379/0"),
    ("redis://:secret@h/0", "redis://:***@h/0"),
    ("postgresql://user:pa:ss@db/x?sslmode=require", "postgresql://user:***@db/x?sslmode=require"),
    ("postgresql://user@db/x", "postgresql://user@db/x"),
    ("dbname=x password='a b' host=h", "dbname=x password=*** host=h"),
    ("dbname=x password = 'it\\'s' host=h", "dbname=x password = *** host=h"),
    ('PASSWORD="q q" host=h', "PASSWORD=*** host=h"),
    ("password=plain host=h", "password=*** host=h"),
    ("http://127.0.0.1:9091", "http://127.0.0.1:9091"),
])
def test_mask_url(url, masked):
    assert mask_url(url) == masked


@settings(max_examples=300, deadline=None)
@given(secret=SECRETS, encode=st.booleans(), scheme=st.sampled_from(["redis", "rediss", "postgresql", "http"]))
def test_no_password_survives_in_a_url(secret, encode, scheme):
    password = quote(secret, safe="") if encode else secret.replace("/", "%2F").replace("?", "%3F").replace("#", "%23")
    url = f"{scheme}://crawler:{password}@db.example:5432/gmw?x=1"
    masked = mask_url(url)
    assert password not in masked and masked == f"{scheme}://crawler:***@db.example:5432/gmw?x=1"


@settings(max_examples=300, deadline=None)
@given(secret=SECRETS)
def test_no_password_survives_in_a_key_value_dsn(secret):
    quoted = "'" + secret.replace("\\", "\\\\").replace("'", "\\'") + "'"
    masked = mask_url(f"host=db password={quoted} dbname=gmw")
    assert secret not in masked and masked == "host=db password=*** dbname=gmw"


def test_the_compose_file_puts_no_password_on_a_command_line():
    """`ps` shows every process's arguments to every user of the host: compose interpolates ${…} into the
    command and the healthcheck's arguments, so the password goes through the environment instead
    (`$$` leaves the variable to the container's shell; redis-cli reads REDISCLI_AUTH)."""
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        command = service.get("command", "")
        argv = [*([command] if isinstance(command, str) else command), *(service.get("healthcheck", {}).get("test", []))]
        assert not any("${GMW_REDIS_PASSWORD" in part or "SCRAPYD_PASSWORD}" in part for part in argv), name
    assert compose["services"]["redis"]["environment"]["REDISCLI_AUTH"].startswith("${GMW_REDIS_PASSWORD")


def command_lines() -> list[bytes]:
    """Every process's argv as `ps` shows it."""
    out = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            out.append(path.read_bytes())
        except OSError:  # the process ended meanwhile
            continue
    return out


@pytest.mark.slow
def test_the_compose_redis_command_starts_redis_with_the_password_from_the_environment(tmp_path):
    """The redis service's own shell script, run here (its /data a temporary folder, as this user, on a free
    port): redis-server starts with the ACL the script wrote, the password works through REDISCLI_AUTH, and
    no process's command line holds it."""
    import os
    import socket
    import subprocess
    import time

    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    script = compose["services"]["redis"]["command"][-1].replace("$$", "$").replace("/data/", f"{tmp_path}/")
    script = script.replace(f"chown redis {tmp_path}/users.acl &&", "").replace("exec gosu redis redis-server", "exec redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    password = "Pw-9f3 a'b\"c@d:e"
    env = {**os.environ, "GMW_REDIS_PASSWORD": password, "REDISCLI_AUTH": password}
    server = subprocess.Popen(["sh", "-c", f"{script} --port {port} --bind 127.0.0.1 --dir {tmp_path} --save ''"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ping = None
        for _ in range(100):
            ping = subprocess.run(["redis-cli", "-p", str(port), "--user", "gmwcrawler", "ping"], env=env,
                                  capture_output=True, text=True, check=False)
            if ping.stdout.strip() == "PONG":
                break
            time.sleep(0.05)
        assert ping is not None and ping.stdout.strip() == "PONG"
        wrong = subprocess.run(["redis-cli", "-p", str(port), "--user", "gmwcrawler", "ping"],
                               env={**env, "REDISCLI_AUTH": "wrong"}, capture_output=True, text=True, check=False)
        assert "PONG" not in wrong.stdout
        assert not any(password.encode() in line for line in command_lines())
        assert (tmp_path / "users.acl").stat().st_mode & 0o077 == 0
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
def test_gmwrun_refuses_a_secret_as_a_job_setting():
    import subprocess

    from tests.conftest import PYTHON, ROOT

    for setting in ("GMW_REDIS_URL=redis://crawler:Pw-secret-1@10.0.0.5/0", "GMW_POSTGRES_DSN=host=db password=Pw-secret-1"):
        done = subprocess.run([PYTHON, "-m", "scrapy", "gmwrun", "--nodes", "http://127.0.0.1:1", "--job-setting", setting],
                              cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2 and "command line" in done.stderr and "Pw-secret-1" not in done.stderr


@pytest.mark.slow
def test_no_password_on_any_command_line_or_log_line_during_a_redis_mode_crawl(replica, tmp_path):
    """A worker given GMW_REDIS_URL (and a PostgreSQL DSN) through its environment, as the deployed units do:
    every process's command line, looked at every 50 ms through the crawl, and the whole log hold no password."""
    import os
    import socket
    import subprocess
    import time

    from tests.conftest import PYTHON, ROOT, redis_binary

    password = "Pw-redis-7f3e9a"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "redis.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\nrequirepass {password}\ndir {tmp_path}\nsave \"\"\n")
    conf.chmod(0o600)
    server = subprocess.Popen([redis_binary(), str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        env = {**replica.env(), "GMW_REDIS_URL": f"redis://:{password}@127.0.0.1:{port}/0"}
        command = [PYTHON, "-m", "scrapy", "crawl", "politics", "-a", "start_urls=https://politics.gmw.cn/node_9844.htm",
                   "-a", "follow_related=0", "-O", str(tmp_path / "items.jsonl"), "-s", "GMW_IDLE_TIMEOUT=1",
                   "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "DOWNLOAD_DELAY=0"]
        with (tmp_path / "log").open("wb") as log_file:
            crawl = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
            seen = []
            while crawl.poll() is None:
                seen += [line for line in command_lines() if password.encode() in line]
                time.sleep(0.05)
        log = (tmp_path / "log").read_text("utf-8", "replace")
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert crawl.returncode == 0, log[-2000:]
    assert (tmp_path / "items.jsonl").read_text("utf-8").count("\n") >= 5
    assert seen == []
    assert password not in log and "redis://:***@127.0.0.1" in log  # the URL is logged, masked
    assert os.environ.get("GMW_REDIS_URL") is None  # the test's own environment held none either
