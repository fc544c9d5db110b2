"""Local fake servers speaking the providers' real protocols on loopback HTTP, for tests,
benchmarks and `siyu channels test` dry runs. Each can be given a *script*: per endpoint, a
sequence of faults (HTTP errors, timeouts, provider error codes) served before normal answers.
"""

from siyu.channels.fakes.server import FakeServer, Fault
from siyu.channels.fakes.sms import FakeTencentSms
from siyu.channels.fakes.webhook import FakeWebhook
from siyu.channels.fakes.wechat import FakeWeChat
from siyu.channels.fakes.wecom import FakeWeCom

__all__ = ["FakeServer", "Fault", "FakeWeCom", "FakeWeChat", "FakeTencentSms", "FakeWebhook"]
