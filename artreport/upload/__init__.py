"""Pushing an export to the platform: chunking, bisection of refused chunks, the summary."""

from artreport.upload.pipeline import (
    Chunk,
    ChunkOutcome,
    PendingRow,
    PushOptions,
    PushStopped,
    PushSummary,
    platform_sender,
    push_file,
    send_chunk,
)

__all__ = [
    "Chunk",
    "ChunkOutcome",
    "PendingRow",
    "PushOptions",
    "PushStopped",
    "PushSummary",
    "platform_sender",
    "push_file",
    "send_chunk",
]
