"""``mailflow worker`` for the scale tests, in a process of its own, pointed at loopback only.

Everything comes from the environment as in production (``load_settings``), except what no
setting covers: the HTTP lookups (M365 ranges, RDAP, MTA-STS) go to the test's local HTTP
server (``MAILFLOW_TEST_HTTP_BASE``) and the step timeouts are the short test ones. The
resolver is 127.0.0.1:9 (nothing answers) and the probe allowlist 127.0.0.0/8, so nothing here
can reach another machine.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace

from bot.observability import configure_logging
from bot.probes.config import Endpoints
from bot.settings import load_settings
from bot.watch.jobs import run_worker
from tests.fixtures.smtp_peers import TEST_TIMEOUTS


def main() -> None:
    settings = load_settings(env_file=None)
    configure_logging(settings)
    base = os.environ["MAILFLOW_TEST_HTTP_BASE"]
    endpoints = Endpoints(
        rdap_bootstrap=f"{base}/rdap/dns.json",
        m365_endpoints=f"{base}/m365/endpoints/worldwide",
        m365_version=f"{base}/m365/version/worldwide",
        mta_sts_policy=f"{base}/mta-sts/{{domain}}/.well-known/mta-sts.txt",
    )
    config = replace(settings.probe_config(), endpoints=endpoints, timeouts=TEST_TIMEOUTS, resolver=("127.0.0.1", 9))
    assert config.allow == ("127.0.0.0/8",), "the scale tests probe loopback only"
    job_timeout = float(os.environ.get("MAILFLOW_TEST_JOB_TIMEOUT", "5"))
    asyncio.run(run_worker(settings, probe_config=config, poll_delay=0.05, job_timeout=job_timeout))


if __name__ == "__main__":
    main()
