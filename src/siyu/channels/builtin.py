"""Imports the built-in channels so they register themselves."""

from siyu.channels import consent, local, sms, webhook, wechat  # noqa: F401
from siyu.channels.wecom import channels  # noqa: F401
