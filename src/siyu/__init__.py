"""siyu (私域): warehouse-native private-domain consumer operations."""

__version__ = "0.1.0"
