#!/usr/bin/python3
"""A local receiver for kpulse's alerts (userspace/alerts/) on 127.0.0.1
that checks every payload the way the real services do, and records it
for the tests (GET /_received, see fakelib.py).

  POST /slack/...               a Slack incoming webhook: a JSON object
      with "text" (required unless "blocks" carry the message), blocks of
      known types whose text objects hold at most 3000 characters. Answers
      200 "ok" (text/html), or 400 invalid_payload / no_text /
      invalid_blocks as plain text (api.slack.com/messaging/webhooks; the
      error strings of api.slack.com/changelog/2016-05-17).
  POST /pagerduty/v2/enqueue    PagerDuty Events API v2
      (developer.pagerduty.com, docs/events-API-v2/02-Trigger-Events.md):
      routing_key (32 characters), event_action trigger / acknowledge /
      resolve, dedup_key at most 255 characters, and for a trigger a
      payload with summary (at most 1024), source and severity (critical,
      error, warning, info). Answers 202 {"status": "success", "message":
      "Event processed", "dedup_key"} or 400 {"status": "invalid event",
      "message": "Event object is invalid", "errors": [...]}; events are
      limited to 512 KB.
  POST /webhook/...             a generic JSON webhook: any JSON object; with
      --webhook-secret S the X-Kpulse-Signature header must be
      "sha256=" + hex HMAC-SHA256(S, body), else 401.

Modes per target (POST /_control): ok, slow, hang, error500, error429
(with Retry-After), error400. With --tls CERT KEY it serves HTTPS (the
tests give it a self-signed certificate, which kpulse must refuse).
"""

import hashlib
import hmac
import json
import sys

from fakelib import Handler, serve

SECRET = None
PD_SEVERITIES = {"critical", "error", "warning", "info"}
PD_ACTIONS = {"trigger", "acknowledge", "resolve"}
SLACK_BLOCKS = {"section", "context", "divider", "header", "actions", "image", "rich_text"}


def slack_errors(body):
    if not isinstance(body, dict):
        return "invalid_payload"
    blocks = body.get("blocks")
    text = body.get("text")
    if blocks is None and not (isinstance(text, str) and text):
        return "no_text"
    if text is not None and not isinstance(text, str):
        return "invalid_payload"
    if blocks is not None:
        if not isinstance(blocks, list) or len(blocks) > 50:
            return "invalid_blocks"
        for b in blocks:
            if not isinstance(b, dict) or b.get("type") not in SLACK_BLOCKS:
                return "invalid_blocks"
            objs = []
            if "text" in b:
                objs.append(b["text"])
            objs.extend(b.get("elements") or [])
            for o in objs:
                if not isinstance(o, dict) or o.get("type") not in ("mrkdwn", "plain_text"):
                    return "invalid_blocks"
                if not isinstance(o.get("text"), str) or len(o["text"]) > 3000:
                    return "invalid_blocks"
    return None


def pagerduty_errors(body):
    errs = []
    if not isinstance(body, dict):
        return ["Event object is not a JSON object"]
    rk = body.get("routing_key")
    if not isinstance(rk, str) or len(rk) != 32:
        errs.append("'routing_key' must be a 32 character Integration Key")
    action = body.get("event_action")
    if action not in PD_ACTIONS:
        errs.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dk = body.get("dedup_key")
    if dk is not None and (not isinstance(dk, str) or not dk or len(dk) > 255):
        errs.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dk:
        errs.append("'dedup_key' is required for %s events" % action)
    if action == "trigger":
        p = body.get("payload")
        if not isinstance(p, dict):
            errs.append("'payload' is missing or not an object")
        else:
            s = p.get("summary")
            if not isinstance(s, str) or not s or len(s) > 1024:
                errs.append("'payload.summary' is missing, blank or longer than 1024")
            if not isinstance(p.get("source"), str) or not p.get("source"):
                errs.append("'payload.source' is missing or blank")
            if p.get("severity") not in PD_SEVERITIES:
                errs.append("'payload.severity' is invalid (must be one of: critical, error, "
                            "warning, info)")
            if "custom_details" in p and not isinstance(p["custom_details"], dict):
                errs.append("'payload.custom_details' must be an object")
    for ln in body.get("links") or []:
        if not isinstance(ln, dict) or not isinstance(ln.get("href"), str):
            errs.append("'links' entries need an 'href'")
    return errs


class ReceiverHandler(Handler):
    def handle_post(self, target, raw, mode):
        m = mode["mode"]
        ra = {"Retry-After": str(mode["retry_after"])} if mode.get("retry_after") else None
        if m == "error500":
            if target == "slack":
                return self.send(500, "rollup_error", content_type="text/plain")
            return self.send(500, {"error": "internal"})
        if m == "error429":
            if target == "pagerduty":
                return self.send(429, {"status": "throttle event", "message": "Requests for "
                                       "this service are arriving too quickly. Please retry "
                                       "later."}, headers=ra)
            return self.send(429, "rate_limited", content_type="text/plain", headers=ra)
        if m == "error400":
            if target == "slack":
                return self.send(404, "channel_not_found", content_type="text/plain")
            return self.send(400, {"error": "refused"})
        ctype = self.headers.get("Content-Type") or ""
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if target == "slack":
            if not ctype.startswith("application/json"):
                return self.send(400, "invalid_payload", content_type="text/plain")
            err = slack_errors(body)
            if err:
                return self.send(400, err, content_type="text/plain")
            return self.send(200, "ok", content_type="text/html")
        if target == "pagerduty":
            if self.path.split("?")[0] != "/pagerduty/v2/enqueue":
                return self.send(404, {"error": "not found"})
            if len(raw) > 512 * 1024:
                return self.send(413, {"status": "invalid event",
                                       "message": "Event object is too large"})
            errs = pagerduty_errors(body)
            if errs:
                return self.send(400, {"status": "invalid event",
                                       "message": "Event object is invalid", "errors": errs})
            return self.send(202, {"status": "success", "message": "Event processed",
                                   "dedup_key": body.get("dedup_key") or "generated"})
        if target == "webhook":
            if not isinstance(body, dict):
                return self.send(400, {"error": "expected a JSON object"})
            if SECRET is not None:
                want = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
                got = self.headers.get("X-Kpulse-Signature") or ""
                if not hmac.compare_digest(want, got):
                    return self.send(401, {"error": "bad signature"})
            return self.send(200, {"received": True})
        return self.send(404, {"error": "no such receiver"})


def main(argv):
    global SECRET
    args = argv[1:]
    tls = None
    while args:
        a = args.pop(0)
        if a == "--webhook-secret" and args:
            SECRET = args.pop(0)
        elif a == "--tls" and len(args) >= 2:
            tls = (args.pop(0), args.pop(0))
        else:
            sys.stderr.write("usage: webhook_receiver.py [--webhook-secret S] [--tls CERT KEY]\n")
            return 2
    serve(ReceiverHandler, tls)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
