"""``cvibot tools sync --dry-run`` against the real Tavus API: reads only, changes nothing.

Skipped unless ``TAVUS_API_KEY`` and ``TAVUS_PERSONA_ID`` are set (``TAVUS_BASE_URL``
overrides the API root). It reads the account's tools and the persona's attached tools
through the real endpoints and prints the plan for a one-tool bot.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sync_helpers import invoke, write_bot

from cvibot.tavus import DEFAULT_BASE_URL

pytestmark = pytest.mark.skipif(
    not (os.environ.get("TAVUS_API_KEY", "").strip() and os.environ.get("TAVUS_PERSONA_ID")),
    reason="TAVUS_API_KEY and TAVUS_PERSONA_ID are not set",
)

TOOLS = '''
from cvibot import tool

@tool
def cvibot_live_probe(text: str) -> str:
    """Repeat a text (a tool of cvibot's live test; the dry run never creates it)."""
    return text
'''


def test_live_dry_run_reads_the_registry_and_plans(tmp_path: Path) -> None:
    persona = os.environ["TAVUS_PERSONA_ID"]
    base_url = os.environ.get("TAVUS_BASE_URL") or DEFAULT_BASE_URL
    config = write_bot(
        tmp_path, TOOLS, f'tavus: {{base_url: "{base_url}", sync: {{persona_id: {persona}}}}}\n'
    )

    result = invoke("tools", "sync", config, "--dry-run")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"tools sync: 1 tool → the tools registry, attached to persona {persona}"
    assert lines[-1] == "dry run: nothing was sent to Tavus"
    assert os.environ["TAVUS_API_KEY"] not in result.stdout + result.stderr
