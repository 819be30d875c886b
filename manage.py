#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sons.settings")
    if "SECRET_KEY" not in os.environ and "DEBUG" not in os.environ:
        # No configuration at all can only be a developer's machine (production always sets
        # SECRET_KEY, without which the settings refuse to start): the local mode.
        os.environ["DEBUG"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
