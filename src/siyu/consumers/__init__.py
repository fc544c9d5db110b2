"""Consumers as people: the 360° view over every key OneID joined (``siyu consumer show``)."""

from siyu.consumers.profile import profile

__all__ = ["profile"]
