"""mailflow: reads bounces and queue errors, explains them, and probes for the cause."""

__version__ = "0.1.0"
