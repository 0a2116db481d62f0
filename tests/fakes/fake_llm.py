#!/usr/bin/python3
"""A fake LLM server on 127.0.0.1 that speaks the three protocols kpulse's
userspace/llm/ clients speak, as their public documentation describes them,
so that the clients are tested against the wire format and not against
themselves.

  POST /<target>/.../chat/completions   OpenAI-compatible chat completions
      (OpenAI API reference, "Create chat completion"; Groq serves it under
      https://api.groq.com/openai/v1, console.groq.com/docs/openai). Errors
      are {"error": {"message", "type", "param", "code"}}. A target named
      "groq" adds Groq's "x_groq" field; one named "openai" reports a dated
      model snapshot, as OpenAI does.
  POST /hf/.../chat/completions          the Hugging Face inference router
      (https://router.huggingface.co/v1, OpenAI-compatible): the same
      answers, errors as {"error": "text"} (what huggingface.js's
      innerRequest reads), model ids "org/name[:provider]".
  POST /<target>/api/chat                Ollama's native chat API
      (github.com/ollama/ollama docs/api.md, "Generate a chat completion"):
      streams NDJSON unless the request says "stream": false, exactly as
      Ollama does; errors are {"error": "text"}.

Each target answers in the mode set through POST /_control (see
fakelib.py): ok, slow, hang, error500, error503, error429 (with
Retry-After), malformed (cut JSON), wrongshape (valid JSON, no answer),
notjson (an HTML page), echo_key (a 401 quoting the Authorization header
back, as a careless server might), control (an answer full of terminal
escapes and control characters), huge (an answer of `size` bytes).

Usage: fake_llm.py [--key TARGET=KEY ...]
A target given a key answers 401 unless "Authorization: Bearer KEY" comes.
"""

import json
import re
import sys
import time

from fakelib import Handler, serve

KEYS = {}

# What OpenAI's chat completions accept; anything else is refused with
# "Unrecognized request argument supplied" like the real service.
OPENAI_PARAMS = {
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p",
    "stream", "stream_options", "stop", "n", "seed", "response_format", "user",
    "frequency_penalty", "presence_penalty", "store", "metadata", "tools", "tool_choice",
    "parallel_tool_calls", "logprobs", "top_logprobs", "logit_bias", "reasoning_effort",
    "service_tier", "modalities", "prediction", "audio",
}
ROLES = {"system", "developer", "user", "assistant", "tool"}
HF_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(:[a-z0-9-]+)?$")
OLLAMA_PARAMS = {"model", "messages", "tools", "format", "options", "stream", "keep_alive", "think"}


def default_answer(target):
    return ("Cause: a fake cause from %s.\n"
            "Evidence:\n- the evidence record\n"
            "Next steps:\n- check the fake server" % target)


def estimate_tokens(messages):
    return max(1, sum(len(m.get("content") or "") for m in messages) // 4)


class LLMHandler(Handler):
    # ---------------------------------------------------------------- errors
    def openai_error(self, status, message, etype, code=None, param=None, headers=None):
        if self.flavour == "hf":
            return self.send(status, {"error": message}, headers=headers)
        return self.send(status, {"error": {"message": message, "type": etype, "param": param,
                                            "code": code}}, headers=headers)

    def ollama_error(self, status, message):
        return self.send(status, {"error": message})

    def mode_error(self, mode, proto):
        """Answers a request in an error mode; False when mode is not one."""
        m = mode["mode"]
        ra = {"Retry-After": str(mode["retry_after"])} if mode.get("retry_after") else None
        if m == "error500":
            if proto == "ollama":
                return self.ollama_error(500, "llama runner process has terminated") or True
            return self.openai_error(500, "The server had an error while processing your "
                                     "request. Sorry about that!", "server_error") or True
        if m == "error503":
            if proto == "ollama":
                return self.ollama_error(503, "server busy, please try again") or True
            if self.flavour == "hf":
                return self.send(503, {"error": "Model is currently loading",
                                       "estimated_time": 20.0}, headers=ra) or True
            return self.openai_error(503, "The engine is currently overloaded, please try "
                                     "again later", "server_error", headers=ra) or True
        if m == "error429":
            if proto == "ollama":
                return self.send(429, {"error": "too many requests"}, headers=ra) or True
            return self.openai_error(429, "Rate limit reached for requests", "requests",
                                     code="rate_limit_exceeded", headers=ra) or True
        if m == "malformed":
            return self.send(200, '{"choices": [{"message": {"content": "cut sh') or True
        if m == "notjson":
            return self.send(200, "<html><body>502 Bad Gateway</body></html>",
                             content_type="text/html") or True
        if m == "echo_key":
            auth = self.headers.get("Authorization") or ""
            return self.openai_error(401, "Incorrect API key provided: %s. You can find "
                                     "your API key in your account." % auth,
                                     "invalid_request_error", code="invalid_api_key") or True
        return False

    def answer_text(self, target, mode):
        if mode["mode"] == "control":
            return "Cause:\x1b[2J\x1b[31m red\x07 bell\r\nEvidence:\tok"
        if mode["mode"] == "huge":
            return "x" * mode["size"]
        return mode.get("answer") or default_answer(target)

    # ---------------------------------------------------------------- OpenAI
    def chat_completions(self, target, raw, mode):
        self.flavour = "hf" if target.startswith("hf") else "openai"
        key = KEYS.get(target)
        if key and self.headers.get("Authorization") != "Bearer " + key:
            if self.flavour == "hf":
                return self.send(401, {"error": "Invalid credentials in Authorization header"})
            return self.openai_error(401, "Invalid API Key", "invalid_request_error",
                                     code="invalid_api_key")
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self.openai_error(400, "Invalid Content-Type header, expected "
                                     "application/json", "invalid_request_error")
        try:
            req = json.loads(raw)
        except ValueError:
            return self.openai_error(400, "We could not parse the JSON body of your request.",
                                     "invalid_request_error")
        if not isinstance(req, dict):
            return self.openai_error(400, "Invalid request body", "invalid_request_error")
        for k in req:
            if k not in OPENAI_PARAMS:
                return self.openai_error(400, "Unrecognized request argument supplied: %s" % k,
                                         "invalid_request_error", param=k)
        model = req.get("model")
        if not isinstance(model, str) or not model:
            return self.openai_error(400, "you must provide a model parameter",
                                     "invalid_request_error", param="model")
        if self.flavour == "hf" and not HF_MODEL.match(model):
            return self.send(400, {"error": "Model '%s' is not a valid Hub model id" % model})
        msgs = req.get("messages")
        if not isinstance(msgs, list) or not msgs or not all(
                isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str)
                for m in msgs):
            return self.openai_error(400, "Invalid 'messages': expected an array of "
                                     "{role, content} objects", "invalid_request_error",
                                     param="messages")
        for k in ("max_tokens", "max_completion_tokens"):
            if k in req and (not isinstance(req[k], int) or isinstance(req[k], bool) or req[k] < 1):
                return self.openai_error(400, "Invalid '%s': integer below minimum value" % k,
                                         "invalid_request_error", param=k)
        if self.mode_error(mode, "openai"):
            return
        if mode["mode"] == "wrongshape":
            return self.send(200, {"id": "chatcmpl-x", "object": "chat.completion",
                                   "choices": []})
        text = self.answer_text(target, mode)
        pt = estimate_tokens(msgs)
        ct = max(1, len(text) // 4)
        if req.get("stream") is True:
            # Server-sent events, as the real services do when asked to
            chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model,
                     "choices": [{"index": 0, "delta": {"content": text}}]}
            body = "data: %s\n\ndata: [DONE]\n\n" % json.dumps(chunk)
            return self.send(200, body, content_type="text/event-stream")
        reported = model + "-2024-07-18" if target == "openai" else model
        body = {
            "id": "chatcmpl-%d" % int(time.time() * 1000),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reported,
            "choices": [{"index": 0,
                         "message": {"role": "assistant", "content": text, "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
            "system_fingerprint": "fp_fake",
        }
        if target == "groq":
            body["x_groq"] = {"id": "req_fake"}
            body["usage"].update({"queue_time": 0.01, "prompt_time": 0.02,
                                  "completion_time": 0.03, "total_time": 0.06})
        return self.send(200, body)

    # ---------------------------------------------------------------- Ollama
    def ollama_chat(self, target, raw, mode):
        try:
            req = json.loads(raw)
        except ValueError:
            return self.ollama_error(400, "invalid character looking for beginning of value")
        if not isinstance(req, dict):
            return self.ollama_error(400, "json: cannot unmarshal into Go value of type "
                                     "api.ChatRequest")
        for k in req:
            if k not in OLLAMA_PARAMS:
                # Ollama ignores unknown fields; a fake that refuses them keeps
                # the client to what the documentation lists
                return self.ollama_error(400, "unexpected field %s" % k)
        model = req.get("model")
        if not isinstance(model, str) or not model:
            return self.ollama_error(400, "model is required")
        msgs = req.get("messages")
        if not isinstance(msgs, list) or not all(
                isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str)
                for m in msgs):
            return self.ollama_error(400, "invalid messages")
        if self.mode_error(mode, "ollama"):
            return
        if mode["mode"] == "wrongshape":
            return self.send(200, {"model": model, "done": True})
        text = self.answer_text(target, mode)
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        final = {"model": model, "created_at": now,
                 "message": {"role": "assistant", "content": text},
                 "done_reason": "stop", "done": True, "total_duration": 5191566416,
                 "load_duration": 2154458, "prompt_eval_count": estimate_tokens(msgs),
                 "prompt_eval_duration": 383809000, "eval_count": max(1, len(text) // 4),
                 "eval_duration": 4799921000}
        if req.get("stream", True) is not False:
            # the default: one JSON object per line, the last with done: true
            lines = [{"model": model, "created_at": now,
                      "message": {"role": "assistant", "content": text}, "done": False}]
            final["message"] = {"role": "assistant", "content": ""}
            lines.append(final)
            body = "".join(json.dumps(x) + "\n" for x in lines)
            return self.send(200, body, content_type="application/x-ndjson")
        return self.send(200, final)

    def handle_post(self, target, raw, mode):
        path = self.path.split("?")[0]
        if path.endswith("/chat/completions"):
            return self.chat_completions(target, raw, mode)
        if path.endswith("/api/chat"):
            return self.ollama_chat(target, raw, mode)
        return self.send(404, {"error": "404 page not found"})


def main(argv):
    args = argv[1:]
    while args:
        a = args.pop(0)
        if a == "--key" and args:
            t, _, k = args.pop(0).partition("=")
            KEYS[t] = k
        else:
            sys.stderr.write("usage: fake_llm.py [--key TARGET=KEY ...]\n")
            return 2
    serve(LLMHandler)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
