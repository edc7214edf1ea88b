"""Slack surface: thin handlers that unpack a payload, call the core in bot/, post the result."""
