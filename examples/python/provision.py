#!/usr/bin/env python3
"""POST /provision from a Python service: an OpenIM token for one of your users (standard library only).

    GATEWAY_URL=http://127.0.0.1:3000 GATEWAY_API_KEY=<key> python3 provision.py <userID> [platformID] [nickname]

Prints the answer (userID, token, expiresAt, apiAddr, wsAddr, ...) as JSON. On a refusal it prints the gateway's
code, message and requestId (quote the requestId to whoever runs the gateway) and exits 1.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

MAX_RETRIES = 2          # 429 and 503 with Retry-After are waited out this many times
MAX_RETRY_WAIT_S = 60    # a longer Retry-After is not waited out


def provision(base_url, api_key, user_id, platform_id=5, nickname=None):
    body = {"userID": user_id, "platformID": platform_id}
    if nickname is not None:
        body["nickname"] = nickname
    for attempt in range(MAX_RETRIES + 1):
        request = urllib.request.Request(
            base_url.rstrip("/") + "/provision",
            data=json.dumps(body).encode("utf-8"),
            headers={"content-type": "application/json", "x-api-key": api_key},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)   # 201: this call registered the user; 200: it existed
        except urllib.error.HTTPError as error:
            retry_after = error.headers.get("retry-after", "")
            wait = int(retry_after) if retry_after.isdigit() else None
            if error.code in (429, 503) and wait is not None and wait <= MAX_RETRY_WAIT_S and attempt < MAX_RETRIES:
                time.sleep(wait)
                continue
            try:
                refusal = json.load(error)   # {statusCode, code, message, requestId}
            except ValueError:
                refusal = {"code": "HTTP_ERROR", "message": f"the gateway answered {error.code}"}
            raise GatewayError(error.code, refusal) from None
        except urllib.error.URLError as error:   # no answer: the address is wrong, or the gateway is down
            raise GatewayError(0, {"code": "GATEWAY_UNREACHABLE", "message": str(error.reason)}) from None


class GatewayError(Exception):
    def __init__(self, status, refusal):
        self.status = status
        self.code = refusal.get("code")
        self.request_id = refusal.get("requestId")
        super().__init__(f"{status} {self.code}: {refusal.get('message')} (requestId {self.request_id})")


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.environ.get("GATEWAY_URL") or not os.environ.get("GATEWAY_API_KEY"):
        sys.exit("usage: GATEWAY_URL=... GATEWAY_API_KEY=... python3 provision.py <userID> [platformID] [nickname]")
    try:
        answer = provision(os.environ["GATEWAY_URL"], os.environ["GATEWAY_API_KEY"], sys.argv[1],
                           int(sys.argv[2]) if len(sys.argv) > 2 else 5, sys.argv[3] if len(sys.argv) > 3 else None)
    except GatewayError as error:
        sys.exit(str(error))
    print(json.dumps(answer, indent=2))
