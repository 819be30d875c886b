import io
import json
import logging
import socket

import pytest

from core.middleware import RequestIdFilter


@pytest.fixture
def closed_port():
    """A local TCP port nothing listens on: connections to it are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def console_lines(caplog):
    """What the settings' console handler writes (JSON lines with DEBUG off), with the INFO
    records of the engine let through; returns a function giving the lines parsed."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RequestIdFilter) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    for name in ("core", "tests.ops"):
        caplog.set_level(logging.INFO, logger=name)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        handler.setStream(previous)
