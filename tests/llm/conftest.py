"""Fixtures for the LLM route's end-to-end tests: `kpulse ask` (env
KPULSE_BIN) against the fake LLM server of tests/fakes on 127.0.0.1.
No root, no network beyond this machine.

  KPULSE_BIN=build/kpulse /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/llm

Each fake runs as a subprocess on a free port (it prints "PORT n"); every
process is stopped and every temporary directory removed at teardown, also
when a test failed.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FAKES = os.path.join(HERE, "..", "fakes")

GROQ_KEY = "gsk_PYTESTKEY_0f1e2d3c4b5a69788796"
OPENAI_KEY = "sk-proj-PYTESTKEY-abcdefghijklmnop0123"
HF_KEY = "hf_PYTESTKEYzyxwvutsrqponmlkjihg"
KEYS = (GROQ_KEY, OPENAI_KEY, HF_KEY)


class Fake:
    """A fake server of tests/fakes and its control endpoints."""

    def __init__(self, script, args=()):
        self.proc = subprocess.Popen(["/usr/bin/python3",
                                      os.path.join(FAKES, script), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError("fake %s did not start: %r" % (script, line))
        self.port = int(line.split()[1])
        self.base = "http://127.0.0.1:%d" % self.port

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def control(self, target, mode, **kw):
        self._call("POST", "/_control", dict(target=target, mode=mode, **kw))

    def reset(self):
        self._call("POST", "/_reset", {})

    def requests(self, target):
        return self._call("GET", "/_stats")["targets"].get(target, {}).get("requests", 0)

    def received(self):
        return self._call("GET", "/_received")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def fake_llm():
    f = Fake("fake_llm.py", ["--key", "groq=" + GROQ_KEY, "--key", "openai=" + OPENAI_KEY,
                             "--key", "hf=" + HF_KEY])
    yield f
    f.stop()


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="kpulse-llm-")
    os.mkdir(os.path.join(d, "data"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def kpulse_bin():
    path = os.environ.get("KPULSE_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("KPULSE_BIN is not set to the kpulse binary (make test-llm sets it)")
    return path


@pytest.fixture
def ask(kpulse_bin, fake_llm, workdir):
    """Runs `kpulse ask` with every provider pointed at the fake; returns
    the CompletedProcess. env adds or overrides KPULSE_* settings."""

    def run(*args, env=None, timeout=60, input=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("KPULSE_")}
        base = fake_llm.base
        e.update({
            "KPULSE_DATA_DIR": os.path.join(workdir, "data"),
            "KPULSE_LLM_PROVIDERS": "groq,ollama",
            "KPULSE_LLM_GROQ_URL": base + "/groq/openai/v1",
            "KPULSE_LLM_GROQ_KEY": GROQ_KEY,
            "KPULSE_LLM_OPENAI_URL": base + "/openai/v1",
            "KPULSE_LLM_OPENAI_KEY": OPENAI_KEY,
            "KPULSE_LLM_OLLAMA_URL": base + "/ollama",
            "KPULSE_LLM_HUGGINGFACE_URL": base + "/hf/v1",
            "KPULSE_LLM_HUGGINGFACE_KEY": HF_KEY,
            "KPULSE_LLM_COMPAT_URL": base + "/compat/v1",
            "KPULSE_LLM_COMPAT_MODEL": "qwen2.5",
            "KPULSE_LLM_TIMEOUT": "5",
        })
        e.update(env or {})
        return subprocess.run([kpulse_bin, "ask", *args], env=e, cwd=workdir,
                              capture_output=True, text=True, timeout=timeout, input=input)

    return run
