"""The AWS backend: DynamoDB tables and an S3 bucket via aioboto3 (install `chat-storage[aws]`).

`open_aws_storage` opens it; `provision` creates its tables and bucket (tests, `make dev`). The key
design is described in the package README.
"""

from chat_storage.aws._tables import ResourceNames
from chat_storage.aws.provision import provision
from chat_storage.aws.storage import open_aws_storage

__all__ = ["ResourceNames", "open_aws_storage", "provision"]
