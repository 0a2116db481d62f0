"""`kpulse ask` end to end against the fake LLM server: the answer and its
provenance, order and fallback, the built-in reading when every provider
fails, the cache, timeouts, interruption, bad input, and no key in any
output, file or process argument."""

import glob
import json
import os
import signal
import subprocess
import time

from conftest import GROQ_KEY, HF_KEY, KEYS, OPENAI_KEY

EVIDENCE = {"incident": 7, "series": "kpulse_sched_runqueue_latency_seconds",
            "samples": [[1700000000 + i, i * 0.5] for i in range(20)]}


def write_evidence(workdir, obj=EVIDENCE, name="ev.json"):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


def leaks(text):
    """The keys, or 8-byte runs of them, found in text."""
    found = []
    for k in KEYS:
        for i in range(len(k) - 7):
            if k[i:i + 8] in text:
                found.append(k[i:i + 8])
                break
    return found


def test_an_answer_comes_with_its_provenance(ask, fake_llm, workdir):
    ev = write_evidence(workdir)
    r = ask("--question", "What should I check first?", "--evidence", ev)
    assert r.returncode == 0, r.stderr
    assert "Cause: a fake cause from groq." in r.stdout
    assert "-- provider groq, model llama-3.3-70b-versatile," in r.stdout
    assert "asked now" in r.stdout
    assert fake_llm.requests("groq") == 1
    sent = fake_llm.received()[0]
    assert sent["headers"]["authorization"] == "Bearer " + GROQ_KEY
    assert sent["body"]["stream"] is False
    assert sent["body"]["messages"][0]["role"] == "system"
    assert "What should I check first?" in sent["body"]["messages"][1]["content"]
    assert '"incident":7' in sent["body"]["messages"][1]["content"]


def test_json_output_has_every_field(ask, workdir):
    r = ask("--question", "why?", "--json", "--provider", "ollama")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["provider"] == "ollama"
    assert out["model"] == "llama3.2"
    assert out["answer"].startswith("Cause: a fake cause from ollama.")
    assert out["prompt_tokens"] > 0 and out["completion_tokens"] > 0
    assert out["cached"] is False and out["all_failed"] is False
    assert out["failures"] == []
    assert 0 < out["latency_s"] < 5


def test_providers_are_asked_in_order_and_failures_named(ask, fake_llm):
    fake_llm.control("groq", "error500")
    r = ask("--question", "why?", "--json", env={"KPULSE_LLM_PROVIDERS": "groq,huggingface,ollama"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["provider"] == "huggingface"
    assert out["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert [f["provider"] for f in out["failures"]] == ["groq"]
    assert out["failures"][0]["reason"].startswith("HTTP 500: The server had an error")
    assert out["failures"][0]["reason"].endswith("(3 tries)")
    assert fake_llm.requests("groq") == 3  # at most two retries
    assert fake_llm.requests("ollama") == 0


def test_when_every_provider_fails_the_builtin_reading_stands(ask, fake_llm):
    fake_llm.control("groq", "malformed")
    fake_llm.control("ollama", "error500")
    r = ask("--question", "why?", "--reading", "CPU 3 is saturated by kworker")
    assert r.returncode == 1
    assert r.stdout == "The built-in reading stands:\nCPU 3 is saturated by kworker\n"
    assert "kpulse ask: no provider answered:" in r.stderr
    assert "  groq: malformed answer: not JSON" in r.stderr
    assert "  ollama: HTTP 500: llama runner process has terminated (3 tries)" in r.stderr
    j = ask("--question", "why?", "--json")
    assert j.returncode == 1
    out = json.loads(j.stdout)
    assert out["all_failed"] is True and out["answer"] is None and out["provider"] is None
    assert len(out["failures"]) == 2


def test_a_repeat_is_answered_from_the_cache(ask, fake_llm, workdir):
    ev = write_evidence(workdir)
    first = json.loads(ask("--evidence", ev, "--json").stdout)
    second = json.loads(ask("--evidence", ev, "--json").stdout)
    assert first["cached"] is False and second["cached"] is True
    assert second["answer"] == first["answer"]
    assert second["provider"] == "groq"
    assert fake_llm.requests("groq") == 1
    # --no-cache neither reads nor writes it
    third = json.loads(ask("--evidence", ev, "--json", "--no-cache").stdout)
    assert third["cached"] is False
    assert fake_llm.requests("groq") == 2
    # a cache TTL of 0 keeps nothing
    fourth = json.loads(ask("--evidence", ev, "--json", env={"KPULSE_LLM_CACHE_TTL": "0"}).stdout)
    assert fourth["cached"] is False


def test_evidence_over_the_budget_is_trimmed_and_said(ask, fake_llm, workdir):
    big = {"samples": [[i, i * 1.5] for i in range(5000)]}
    r = ask("--evidence", write_evidence(workdir, big), "--json",
            env={"KPULSE_LLM_TOKEN_BUDGET": "200"})
    out = json.loads(r.stdout)
    assert out["evidence_trimmed"] is True
    assert out["evidence_tokens"] <= 200
    content = fake_llm.received()[0]["body"]["messages"][1]["content"]
    assert "trimmed to fit the prompt" in content
    assert "more items left out]" in content


def test_a_provider_that_never_answers_ends_within_the_timeout(ask, fake_llm):
    fake_llm.control("groq", "hang")
    t0 = time.monotonic()
    r = ask("--question", "why?", "--json", env={"KPULSE_LLM_TIMEOUT": "2"})
    dt = time.monotonic() - t0
    out = json.loads(r.stdout)
    assert out["provider"] == "ollama"
    assert "timed out after 2.0 s" in out["failures"][0]["reason"]
    assert 1.9 <= dt < 15


def test_an_interrupt_cancels_the_ask(kpulse_bin, ask, fake_llm):
    fake_llm.control("groq", "hang")
    # run by hand to send the signal while it waits
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPULSE_")}
    env.update({"KPULSE_LLM_PROVIDERS": "groq", "KPULSE_LLM_GROQ_URL": fake_llm.base + "/groq/openai/v1",
                "KPULSE_LLM_GROQ_KEY": GROQ_KEY, "KPULSE_LLM_TIMEOUT": "60",
                "KPULSE_DATA_DIR": "/nonexistent"})
    p = subprocess.Popen([kpulse_bin, "ask", "--question", "why?", "--no-cache"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        if fake_llm.requests("groq"):
            break
        time.sleep(0.05)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 130
    assert "kpulse ask: interrupted" in err
    assert time.monotonic() - t0 < 10


def test_bad_input_and_settings_are_refused_with_a_reason(ask, workdir):
    cases = [
        (("--question", "x", "--evidence", os.path.join(workdir, "missing.json")), {},
         "missing.json: No such file or directory"),
        (("--evidence", write_evidence(workdir, None, "n.json").replace("n.json", "bad.json")), {},
         "bad.json: No such file or directory"),
        (("--question", "x", "--provider", "groq,gpt"), {},
         "--llm-providers: \"groq,gpt\" is not a comma-separated list of groq, openai, ollama, "
         "huggingface, compat (each at most once)"),
        (("--question", "x"), {"KPULSE_LLM_PROVIDERS": ""},
         "no LLM provider configured"),
        (("--question", "x", "--provider", "huggingface"), {"KPULSE_LLM_HUGGINGFACE_MODEL": "gpt-4o"},
         "KPULSE_LLM_HUGGINGFACE_MODEL: \"gpt-4o\" is not a Hugging Face model id"),
        (("--question", "x"), {"KPULSE_LLM_GROQ_URL": "http://10.9.8.7/openai/v1"},
         "KPULSE_LLM_GROQ_KEY: refusing to send a key over plain http to http://10.9.8.7"),
        (("--question", "x"), {"KPULSE_LLM_GROQ_KEY": "short"},
         "KPULSE_LLM_GROQ_KEY: the value is not empty or 8 to 1024 bytes"),
        (("--question", "caf\udcc3"), {}, "the question is not valid UTF-8"),
        (("--question", "x", "--llm-groq-key", GROQ_KEY), {}, "unknown or incomplete option"),
        ((), {}, "give --question, --evidence or both"),
    ]
    with open(os.path.join(workdir, "bad.json"), "w") as f:
        f.write('{"cpu": [1, 2}')
    for args, env, msg in cases:
        if args and args[-1].endswith("bad.json"):
            msg = "the evidence is not JSON: line 1, column 14"
        try:
            r = ask(*args, env=env)
        except (UnicodeEncodeError, ValueError):
            continue  # an argument Python cannot pass; the C checks cover it
        assert r.returncode == 2, (args, r.stderr)
        if msg:
            assert msg in r.stderr, (args, r.stderr)
        assert not leaks(r.stdout + r.stderr), (args, r.stderr)


def test_evidence_is_read_from_stdin(ask, fake_llm):
    r = ask("--evidence", "-", "--json", input=json.dumps({"from": "stdin"}))
    assert r.returncode == 0, r.stderr
    assert '"from":"stdin"' in fake_llm.received()[0]["body"]["messages"][1]["content"]


def test_no_key_appears_in_any_output_or_file(ask, fake_llm, workdir):
    """Keys come only from the environment: never in argv, never echoed,
    never stored."""
    ev = write_evidence(workdir)
    outputs = []
    # a careless server quotes the Authorization header back
    fake_llm.control("groq", "echo_key")
    # and an answer that holds a key
    fake_llm.control("openai", "ok", answer="the key is %s, hf is %s" % (OPENAI_KEY, HF_KEY))
    for env in ({"KPULSE_LLM_PROVIDERS": "groq,openai"},
                {"KPULSE_LLM_PROVIDERS": "groq,openai", "KPULSE_LOG_LEVEL": "debug"},
                {"KPULSE_LLM_PROVIDERS": "groq"},
                {"KPULSE_LLM_PROVIDERS": "huggingface,groq"}):
        for extra in ((), ("--json",)):
            r = ask("--evidence", ev, "--question", "key?", *extra, env=env)
            outputs.append(r.stdout + r.stderr)
    joined = "\n".join(outputs)
    assert "[redacted]" in joined
    assert "the key is [redacted], hf is [redacted]" in joined
    assert not leaks(joined), leaks(joined)
    # the cache holds prompts and answers, never a key
    files = glob.glob(os.path.join(workdir, "data", "*"))
    assert any(f.endswith("kpulse.db") for f in files)
    for path in files:
        with open(path, "rb") as f:
            data = f.read().decode("latin-1")
        assert not leaks(data), path
    # keys are not options: a flag would show in ps
    r = ask("--question", "x", "--llm-openai-key=" + OPENAI_KEY)
    assert r.returncode == 2


def test_run_refuses_keys_as_flags(kpulse_bin):
    r = subprocess.run([kpulse_bin, "run", "--llm-groq-key", GROQ_KEY], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2
    assert "unknown or incomplete option" in r.stderr
    assert not leaks(r.stderr)
    h = subprocess.run([kpulse_bin, "run", "--help"], capture_output=True, text=True, timeout=30)
    assert "--llm-providers" in h.stdout and "--llm-groq-key" not in h.stdout
