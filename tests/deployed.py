"""Run the project the ways deploy/ says to (issue #12): a real scrapyd with auth, the egg
scrapyd-deploy builds, the ExecStart lines of deploy/systemd with the environment the units
give them, the lines of deploy/cron the way cron runs them."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT, free_port

DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
INSTALLED = "/opt/gmwcrawler"  # where deploy/README.md puts the checkout
# what systemd and cron give a service: no terminal, their own PATH (systemd.exec(5), cron(8))
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
CRON_PATH = "/usr/bin:/bin"


def project_copy(tmp_path: Path) -> Path:
    """What scrapyd-deploy sees, away from the work tree (it writes build/ and egg-info)."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("setup.py", "scrapy.cfg"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(ROOT / "gmwcrawler", copy / "gmwcrawler", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def env_file(path: Path, values: dict[str, str]) -> Path:
    """/etc/gmwcrawler/env of deploy/README.md: NAME=value lines, read by systemd and by `. file` in cron."""
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def readonly_project(command: list[str]) -> list[str]:
    """`command` with the project folder mounted read-only, as ProtectSystem=strict has /opt; where
    mount namespaces cannot be made (no unshare, no privilege) the command as it is."""
    if not shutil.which("unshare") or subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False).returncode:
        return command
    mount = f"mount --bind -o ro {shlex.quote(str(ROOT))} {shlex.quote(str(ROOT))} && exec \"$@\""
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", mount, "sh", *command]


@dataclass
class Unit:
    """A unit of deploy/systemd, to run its ExecStart the way systemd would on this machine:
    the environment from Environment= and EnvironmentFile= only, %-specifiers expanded, the
    WorkingDirectory, `StateDirectory=` created, /var/lib and /opt mapped into `root`."""

    name: str
    root: Path
    instance: str = "1"
    entries: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        section = ""
        for line in (DEPLOY / "systemd" / self.name).read_text().splitlines():
            line = line.strip()
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
            elif line and not line.startswith("#") and "=" in line and section == "Service":
                key, _, value = line.partition("=")
                self.entries.append((key.strip(), value.strip()))

    def values(self, key: str) -> list[str]:
        return [v for k, v in self.entries if k == key]

    def path(self, path: str) -> str:
        """A path of the unit on this machine: the checkout for /opt/gmwcrawler, `root` for the rest."""
        if path.startswith(f"{INSTALLED}/.venv/bin/"):
            return str(BIN / path.removeprefix(f"{INSTALLED}/.venv/bin/"))
        if path.startswith(INSTALLED):
            return str(ROOT) + path.removeprefix(INSTALLED)
        return str(self.root) + path if path.startswith("/") else path

    def expand(self, text: str) -> str:
        text = text.replace("%%", "\0").replace("%i", self.instance).replace("%S", "/var/lib").replace("%L", "/var/log")
        return text.replace("\0", "%")

    def env(self, environment_file: Path) -> dict[str, str]:
        env = {"PATH": SYSTEMD_PATH, "LANG": "C.UTF-8", "USER": "gmwcrawler", "LOGNAME": "gmwcrawler",
               "HOME": str(self.root / "home-not-writable" / "gmwcrawler"), "SHELL": "/usr/sbin/nologin"}
        (self.root / "home-not-writable").write_text("")  # ProtectHome=yes: nothing may land in a home folder
        for key in ("StateDirectory", "LogsDirectory"):
            for name in " ".join(self.values(key)).split():
                base = "/var/lib/" if key == "StateDirectory" else "/var/log/"
                Path(self.path(base + name)).mkdir(parents=True, exist_ok=True)
        for assignment in self.values("Environment"):
            for item in shlex.split(assignment):
                key, _, value = item.partition("=")
                env[key] = self.path(self.expand(value))
        assert self.values("EnvironmentFile") == ["/etc/gmwcrawler/env"]
        env.update(_read_env(environment_file))
        return env

    def command(self, env: dict[str, str]) -> list[str]:
        """ExecStart's words, `${NAME}` replaced from the unit's environment (systemd.service(5), "Command lines")."""
        (exec_start,) = self.values("ExecStart")
        words = [re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], word) for word in shlex.split(self.expand(exec_start))]
        return [self.path(word) if word.startswith("/") else word for word in words]

    def cwd(self) -> str:
        (folder,) = self.values("WorkingDirectory")
        Path(self.path(folder)).mkdir(parents=True, exist_ok=True)
        return self.path(folder)

    def run(self, environment_file: Path, timeout: float = 300) -> subprocess.CompletedProcess:
        env = self.env(environment_file)
        return subprocess.run(readonly_project(self.command(env)), cwd=self.cwd(), env=env,
                              capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)

    def start(self, environment_file: Path, log: Path) -> subprocess.Popen:
        env = self.env(environment_file)
        with log.open("w") as out:
            return subprocess.Popen(readonly_project(self.command(env)), cwd=self.cwd(), env=env,
                                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def cron_lines() -> list[str]:
    """Every schedule line of deploy/cron/gmwcrawler.cron, the commented alternatives included."""
    text = (DEPLOY / "cron" / "gmwcrawler.cron").read_text()
    return [line.lstrip("# ") for line in text.splitlines() if re.match(r"#? ?\*/15 ", line)]


def cron_command(line: str, root: Path, environment_file: Path) -> tuple[list[str], Path]:
    """One line of a cron.d file as cron runs it: five time fields and a user, then the command given to
    SHELL with `\\%` unescaped (crontab(5)), an environment of nothing but cron's, the user's home
    directory as working directory. Paths of deploy/README.md are mapped: the checkout for
    /opt/gmwcrawler, `root` for the environment file, /var/lib and /var/log."""
    fields = line.split(None, 6)
    assert fields[5] == "gmwcrawler", line
    command = fields[6].replace("\\%", "%")
    command = command.replace(f"cd {INSTALLED}", f"cd {shlex.quote(str(ROOT))}")
    command = command.replace(".venv/bin/", f"{shlex.quote(str(BIN))}/")
    command = command.replace("/etc/gmwcrawler/env", shlex.quote(str(environment_file)))
    for folder in ("/var/lib/gmwcrawler", "/var/log/gmwcrawler"):
        command = command.replace(folder, str(root) + folder)
    # deploy/README.md, step 2: `install -d` of the feed and log folders
    for folder in ("var/lib/gmwcrawler/feeds", "var/log/gmwcrawler", "home"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    env = {"PATH": CRON_PATH, "SHELL": "/bin/bash", "HOME": str(root / "home"), "LOGNAME": "gmwcrawler"}
    return ["env", "-i", *(f"{k}={v}" for k, v in env.items()), "/bin/bash", "-c", command], root / "home"


def run_cron_line(line: str, root: Path, environment_file: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    argv, cwd = cron_command(line, root, environment_file)
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)


def start_cron_line(line: str, root: Path, environment_file: Path) -> subprocess.Popen:
    argv, cwd = cron_command(line, root, environment_file)
    return subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


class Scrapyd:
    """scrapyd with deploy/scrapyd/scrapyd.conf (its /var/lib and /var/log folders moved into `folder`),
    Basic auth, on a free loopback port; started directly, or by `unit` (the scrapyd unit's ExecStart)."""

    def __init__(self, folder: Path, env: dict[str, str], unit: tuple[Unit, Path] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.user, self.password = "operator", uuid.uuid4().hex
        auth = {"SCRAPYD_HTTP_PORT": str(self.port), "SCRAPYD_USERNAME": self.user, "SCRAPYD_PASSWORD": self.password}
        log_path = folder / "scrapyd.log"
        # where deploy/scrapyd/scrapyd.conf's /var/lib/scrapyd and /var/log/scrapyd are here, and the folder
        # scrapyd starts in (it reads the scrapyd.conf there, besides /etc/scrapyd/ of deploy/README.md)
        if unit is None:
            lib, logs, cwd = folder, folder / "logs", folder
        else:
            service, environment_file = unit
            lib, logs, cwd = Path(service.path("/var/lib/scrapyd")), Path(service.path("/var/log/scrapyd")), Path(service.cwd())
        conf = (DEPLOY / "scrapyd" / "scrapyd.conf").read_text()
        (cwd / "scrapyd.conf").write_text(conf.replace("/var/lib/scrapyd", str(lib)).replace("/var/log/scrapyd", str(logs)))
        self.items, self.logs = lib / "items", logs
        if unit is None:
            self.log = log_path.open("w")
            self.process = subprocess.Popen([str(BIN / "scrapyd")], cwd=folder, stdout=self.log,
                                            stderr=subprocess.STDOUT, env={**env, **auth})
        else:
            env_file(environment_file, {**dict(_read_env(environment_file)), **auth})
            self.log = None
            self.process = service.start(environment_file, log_path)
        self.log_path = log_path
        for _ in range(150):
            try:
                self.get("daemonstatus.json")
                return
            except (urllib.error.URLError, ConnectionError):
                assert self.process.poll() is None, log_path.read_text()
                time.sleep(0.1)
        raise RuntimeError(f"scrapyd did not start: {log_path.read_text()}")

    def _request(self, path: str, data: bytes | None = None, auth: bool = True) -> dict:
        request = urllib.request.Request(f"{self.url}/{path}", data=data)
        if auth:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def get(self, path: str, auth: bool = True) -> dict:
        return self._request(path, auth=auth)

    def schedule(self, *form: tuple[str, str]) -> str:
        """schedule.json with spider arguments and `setting` pairs, as a user's script calls it."""
        answer = self._request("schedule.json", urllib.parse.urlencode([("project", "gmwcrawler"),
                                                                          ("spider", "politics"), *form]).encode())
        assert answer["status"] == "ok", answer
        return answer["jobid"]

    def wait_finished(self, jobs: int, timeout: float = 240) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(finished := self.get("listjobs.json?project=gmwcrawler")["finished"]) < jobs:
            assert time.monotonic() < deadline, f"scrapyd jobs did not finish: {self.log_path.read_text()[-3000:]}"
            time.sleep(0.5)
        return finished

    def deploy(self, tmp_path: Path) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "scrapyd-deploy"), "remote"], cwd=project_copy(tmp_path),
                              env=self.client_env(), capture_output=True, text=True, timeout=120, check=False)

    def feed(self, job: str) -> Path:
        return self.items / "gmwcrawler" / "politics" / f"{job}.jl"

    def job_log(self, job: str) -> str:
        return (self.logs / "gmwcrawler" / "politics" / f"{job}.log").read_text()

    def client_env(self) -> dict[str, str]:
        return {**os.environ, "SCRAPYD_URL": self.url + "/", "SCRAPYD_USERNAME": self.user,
                "SCRAPYD_PASSWORD": self.password}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)
        if self.log is not None:
            self.log.close()


def _read_env(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs
