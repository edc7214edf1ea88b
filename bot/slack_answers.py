"""Reading Slack Web API answers that may not be what Slack documents.

An outage page (HTML), a proxy's 405 in plain text, an empty or cut-off body: slack_sdk hands
these over as a response whose ``data`` is a string, None, or (for truncated JSON) aiohttp's
own response object, and calling ``.get`` on that raises AttributeError. ``api_error_code``
reads an error code out of any of them; ``UNREADABLE`` names an answer that is no JSON object.
"""

from __future__ import annotations

UNREADABLE = "unreadable_response"
# What slack_sdk raises (instead of SlackApiError) when it reads .get() off a body that is no object.
SDK_BODY_ERRORS = (AttributeError, TypeError, ValueError)


def api_error_code(response: object) -> str:
    """Slack's error code from a failed call's response, whatever its body was."""
    data = getattr(response, "data", None)
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, str) and error:
            return error[:100]
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return f"http_{status}" if isinstance(status, int) and status != 200 else UNREADABLE
