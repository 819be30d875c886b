"""What a test reads of a response as a person or a program receives it."""

from __future__ import annotations


def text(response) -> str:
    """The page as a person reads it (entities such as &#x27; decoded)."""
    import html

    return html.unescape(response.content.decode())


def downloaded(response) -> bytes:
    """The body of a file download (streamed), its file closed. Not `response.close()`: that
    sends request_finished, whose handler closes the test's PostgreSQL connection."""
    assert response.status_code == 200, response.status_code
    try:
        return b"".join(response.streaming_content)
    finally:
        stream = getattr(response, "file_to_stream", None)
        if stream is not None:
            stream.close()
