"""A fake Tencent Cloud SMS endpoint: checks the TC3-HMAC-SHA256 signature of each call and
answers SendSms as API 3.0 does, and PullSmsSendStatus from a queue of delivery reports the
test scripts with :meth:`FakeTencentSms.report` (each report is pulled once, at most Limit per
call, as the real queue works)."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter, deque

from siyu.channels.fakes.server import FakeServer, Request

__all__ = ["FakeTencentSms"]


class FakeTencentSms(FakeServer):
    def __init__(self, secret_id: str = "AKIDfake", secret_key: str = "fake-key",
                 sdk_app_id: str = "1400000000"):
        super().__init__()
        self.secret_id, self.secret_key, self.sdk_app_id = secret_id, secret_key, sdk_app_id
        self.sent: list[dict] = []
        self.bad_signatures = 0
        self.reports: deque[dict] = deque()
        """Delivery reports waiting to be pulled (PullSmsSendStatusSet items)."""
        self.pulls: list[int] = []
        """How many reports each PullSmsSendStatus call returned."""
        self._ids = itertools.count(1)

    def report(self, serial_no: str, status: str = "SUCCESS", *, description: str | None = None,
               receive_time: int | None = None, context: str | None = None) -> None:
        """Queue the carrier's report of a sent message (``SUCCESS`` or ``FAIL``); an unknown
        ``serial_no`` queues a report of a message this fake never sent."""
        with self.lock:
            sent = next((x for x in self.sent if x["SerialNo"] == serial_no), {})
            phone = sent.get("phone", "+8613900000000")
            self.reports.append({
                "UserReceiveTime": receive_time if receive_time is not None else int(time.time()),
                "CountryCode": "86", "SubscriberNumber": phone[3:], "PhoneNumber": phone,
                "SerialNo": serial_no, "ReportStatus": status,
                "Description": description or ("DELIVRD" if status == "SUCCESS" else "UNDELIV"),
                "SessionContext": context if context is not None else sent.get(
                    "SessionContext", "")})

    def delivered(self) -> Counter[str]:
        return Counter(s["SessionContext"] for s in self.sent)

    def _error(self, code: str, message: str):
        return 200, {"Response": {"Error": {"Code": code, "Message": message},
                                  "RequestId": f"req-{next(self._ids)}"}}, {}

    def handle(self, req: Request):
        from siyu.channels.tc3 import authorization

        h = req.headers
        try:
            ts = int(h.get("x-tc-timestamp", ""))
        except ValueError:
            return self._error("MissingParameter", "X-TC-Timestamp")
        if abs(time.time() - ts) > 300:
            return self._error("AuthFailure.SignatureExpire", "signature expired")
        want = authorization(self.secret_id, self.secret_key, service="sms",
                             host=h.get("host", ""), action=h.get("x-tc-action", ""),
                             body=req.body, timestamp=ts)
        if h.get("authorization") != want:
            self.bad_signatures += 1
            return self._error("AuthFailure.SignatureFailure", "signature mismatch")
        action = h.get("x-tc-action")
        if action not in ("SendSms", "PullSmsSendStatus") or h.get("x-tc-version") != "2021-01-11":
            return self._error("InvalidAction", "unsupported action")
        b = json.loads(req.body)
        if b.get("SmsSdkAppId") != self.sdk_app_id:
            return self._error("FailedOperation.TemplateIncorrectOrUnapproved", "bad app")
        if action == "PullSmsSendStatus":
            return self._pull(b)
        rows = []
        for phone in b.get("PhoneNumberSet") or []:
            n = next(self._ids)
            with self.lock:
                self.sent.append({"phone": phone, "SerialNo": f"2028:{n:08d}", **b})
            rows.append({"SerialNo": f"2028:{n:08d}", "PhoneNumber": phone, "Fee": 1,
                         "SessionContext": b.get("SessionContext", ""), "Code": "Ok",
                         "Message": "send success", "IsoCode": "CN"})
        return 200, {"Response": {"SendStatusSet": rows, "RequestId": f"req-{next(self._ids)}"}}, {}

    def _pull(self, b: dict):
        limit = b.get("Limit")
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            return self._error("InvalidParameterValue.LimitOutOfRange", "Limit must be 1..100")
        with self.lock:
            out = [self.reports.popleft() for _ in range(min(limit, len(self.reports)))]
            self.pulls.append(len(out))
        return 200, {"Response": {"PullSmsSendStatusSet": out,
                                  "RequestId": f"req-{next(self._ids)}"}}, {}
