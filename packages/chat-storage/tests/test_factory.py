import sys

import pytest

from chat_core.errors import MissingExtraError
from chat_storage import AwsStorageConfig, open_storage


@pytest.mark.asyncio
async def test_the_aws_backend_without_its_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "chat_storage.aws", None)  # as if aioboto3 were not installed
    with pytest.raises(MissingExtraError, match=r"chat-storage\[aws\]"):
        async with open_storage(AwsStorageConfig()):
            pass
