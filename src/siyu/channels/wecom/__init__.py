"""WeCom (企业微信): the server API client, the channels that send through it, and the
encrypted callbacks it sends back (``siyu.channels.wecom.callback.router``)."""
