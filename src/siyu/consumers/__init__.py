"""Consumers as people: the 360° view over every key OneID joined (``siyu consumer show``),
read through the consumer lookup index (``siyu consumer index``) where it is usable."""

from siyu.consumers.profile import profile, resolve

__all__ = ["profile", "resolve"]
