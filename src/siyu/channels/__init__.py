"""Channels (PRODUCT.md C8): the outbox dispatcher and the channels it delivers through —
WeCom 1v1 / group / customer moments, official-account template messages, mini-program
subscription messages, SMS, a signed webhook, a file and the console — and the inbound WeCom
callbacks. See docs/channels.md."""

from siyu.channels.base import Channel, Message, register
from siyu.channels.dispatcher import DrainResult, drain

__all__ = ["drain", "DrainResult", "Channel", "Message", "register"]
