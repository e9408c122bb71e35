"""Pushing an export to the platform: chunking, bisection of refused chunks, the summary."""

from artreport.upload.pipeline import (
    ChunkOutcome,
    PendingRow,
    PushOptions,
    PushStopped,
    PushSummary,
    batch_body,
    platform_sender,
    push_file,
    send_chunk,
)

__all__ = [
    "ChunkOutcome",
    "PendingRow",
    "PushOptions",
    "PushStopped",
    "PushSummary",
    "batch_body",
    "platform_sender",
    "push_file",
    "send_chunk",
]
