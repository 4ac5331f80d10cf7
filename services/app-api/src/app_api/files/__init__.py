"""Chat attachments: presigned uploads, quota, listing."""
