"""The autouse guard really stops a real provider call (and would fail the test that made it)."""

from __future__ import annotations

import openai
import pytest


@pytest.mark.asyncio
async def test_a_real_openai_call_is_refused_and_recorded(network_guard: list[str]) -> None:
    client = openai.AsyncOpenAI(api_key="not-a-key", max_retries=0, timeout=5)
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    await client.close()
    assert any("api.openai.com" in attempt for attempt in network_guard)
    network_guard.clear()  # this test provoked the attempt on purpose
