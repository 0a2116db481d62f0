"""`make install` into a DESTDIR: the binary, the systemd unit pointing at it,
the env file (0600, kept on a second install), the state dir (0700) and the
Prometheus and Grafana files; `kpulse user` reads the installed env file and
so finds the data dir the service uses. No root needed (no BPF here).

  KPULSE_BIN=$PWD/build/kpulse /usr/bin/python3 -m pytest -v tests/packaging/test_install.py
"""

import os
import re
import shutil
import stat
import subprocess
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KPULSE_BIN = os.environ.get("KPULSE_BIN", os.path.join(REPO, "build", "kpulse"))
BUILD = os.path.dirname(KPULSE_BIN)


@pytest.fixture
def stage():
    tmp = tempfile.mkdtemp(prefix="kpulse-install-")
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


def make_install(destdir, *extra):
    # the same flags the binary was built with, or make links it again
    # without them (make test-packaging passes SANITIZE through)
    sanitize = [f"SANITIZE={os.environ['SANITIZE']}"] if os.environ.get("SANITIZE") else []
    r = subprocess.run(["make", "--no-print-directory", "-C", REPO, f"BUILD={BUILD}", *sanitize,
                        "install", f"DESTDIR={destdir}", *extra], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_install_lays_out_a_service(stage):
    make_install(stage, "PREFIX=/usr")
    binary = os.path.join(stage, "usr/bin/kpulse")
    assert mode(binary) == 0o755
    assert subprocess.run([binary, "--version"], capture_output=True, timeout=30).returncode == 0

    unit = open(os.path.join(stage, "etc/systemd/system/kpulse.service")).read()
    assert re.search(r"^ExecStart=/usr/bin/kpulse run$", unit, re.M), unit
    assert re.search(r"^EnvironmentFile=-/etc/kpulse/kpulse.env$", unit, re.M)
    assert re.search(r"^Environment=KPULSE_DATA_DIR=/var/lib/kpulse$", unit, re.M)
    assert re.search(r"^StateDirectoryMode=0700$", unit, re.M)
    assert "/usr/local" not in unit

    env = os.path.join(stage, "etc/kpulse/kpulse.env")
    assert mode(env) == 0o600
    assert re.search(r"^KPULSE_DATA_DIR=/var/lib/kpulse$", open(env).read(), re.M)

    state = os.path.join(stage, "var/lib/kpulse")
    assert os.path.isdir(state) and mode(state) == 0o700

    share = os.path.join(stage, "usr/share/kpulse")
    for f in ("env.example", "prometheus/kpulse-alerts.yml",
              "prometheus/kpulse-alerts.test.yml", "grafana/kpulse.json"):
        assert os.path.isfile(os.path.join(share, f)), f


def test_second_install_keeps_the_admins_env_file(stage):
    make_install(stage)
    env = os.path.join(stage, "etc/kpulse/kpulse.env")
    with open(env, "a") as f:
        f.write("KPULSE_INTERVAL=5\n")
    r = make_install(stage)
    assert "keeping" in r.stdout
    assert "KPULSE_INTERVAL=5" in open(env).read()
    # PREFIX defaults to /usr/local
    assert os.path.isfile(os.path.join(stage, "usr/local/bin/kpulse"))


def test_kpulse_user_finds_the_services_data_dir(stage):
    make_install(stage)
    env = os.path.join(stage, "etc/kpulse/kpulse.env")
    state = os.path.join(stage, "var/lib/kpulse")
    # Point the staged env file at the staged state dir, as the real one
    # points at /var/lib/kpulse.
    text = open(env).read().replace("KPULSE_DATA_DIR=/var/lib/kpulse",
                                    f"KPULSE_DATA_DIR={state}")
    with open(env, "w") as f:
        f.write(text)
    cwd = tempfile.mkdtemp(prefix="kpulse-cwd-", dir=stage)  # no ./.env, no ./data
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KPULSE_")}
    # before the service's first start there is no auth.db: --init makes it
    r = subprocess.run([KPULSE_BIN, "user", "add", "ops", "--role", "admin", "--password-stdin",
                        "--init", "--env-file", env], input="ops-password-1\n", capture_output=True,
                       text=True, cwd=cwd, env=clean, timeout=120)
    assert r.returncode == 0, r.stderr
    assert os.path.isfile(os.path.join(state, "auth.db"))
    assert not os.path.exists(os.path.join(cwd, "data"))
    r = subprocess.run([KPULSE_BIN, "user", "list", "--env-file", env], capture_output=True,
                       text=True, cwd=cwd, env=clean, timeout=60)
    assert r.returncode == 0 and "ops" in r.stdout, r.stdout + r.stderr
    # Without --env-file it reads the service's file; the default it names
    # is the unit's EnvironmentFile.
    help_text = subprocess.run([KPULSE_BIN, "user", "--help"], capture_output=True, text=True,
                               timeout=30).stdout
    unit = open(os.path.join(stage, "etc/systemd/system/kpulse.service")).read()
    unit_env = re.search(r"^EnvironmentFile=-(\S+)$", unit, re.M).group(1)
    assert unit_env in help_text


def test_kpulse_user_names_a_missing_env_file(stage):
    r = subprocess.run([KPULSE_BIN, "user", "list", "--env-file",
                        os.path.join(stage, "nope.env")], capture_output=True, text=True,
                       cwd=stage, timeout=30)
    assert r.returncode == 2
    assert "nope.env" in r.stderr


def test_make_run_installs_no_test_tool_and_make_test_does():
    def recipe(target):
        r = subprocess.run(["make", "--no-print-directory", "-n", "-C", REPO, target],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return set(re.findall(r"[a-z0-9][a-z0-9.+-]+", r.stdout))

    run_pkgs, test_pkgs = recipe("deps-run"), recipe("deps")
    tools = {"fio", "stress-ng", "valgrind", "prometheus", "wrk", "chromium", "iperf3",
             "python3-pytest", "python3-selenium", "linux-perf"}
    assert not tools & run_pkgs, tools & run_pkgs
    assert tools <= test_pkgs, tools - test_pkgs
    # what building and running need is in both
    for lib in ("libbpf-dev", "libjansson-dev", "libsnappy-dev", "clang"):
        assert lib in run_pkgs and lib in test_pkgs
