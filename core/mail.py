"""Mails sent by tasks: each one recorded as soon as the server has accepted it.

A task that mails someone is delivered again if its worker dies (late acks), so it checks at its
start whether its mail is already on record. `send_then_record` makes that record right after the
server's « 250 » to the message, before the connection is closed: with Django's `send_mail` the
record would come after the goodbye (QUIT), and a worker killed while the server takes its time
to answer it would leave a mail sent but not recorded, sent a second time by the redelivery.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.mail import EmailMessage, get_connection


def send_then_record(message: EmailMessage, record: Callable[[], object]) -> None:
    """Sends `message` on a connection of its own, calls `record()` once the server has accepted
    it, then closes the connection."""
    connection = get_connection()
    connection.open()
    try:
        message.connection = connection
        message.send()
        record()
    finally:
        connection.close()
