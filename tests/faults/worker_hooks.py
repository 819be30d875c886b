"""Imported by the fault tests' workers (`celery worker --include tests.faults.worker_hooks`),
never by the application: a gate inside WeasyPrint, so that a test kills a worker while it is
rendering a PDF, at a point it knows rather than after a guessed sleep.

With `SONS_FAULTS_PDF_GATE=<folder>` set, the first `weasyprint.HTML.write_pdf` call that finds
`<folder>/hold` renames it `<folder>/held` (the test waits for that file) and then waits there
until its process is killed. Every other call renders as usual.
"""

import os
import time
from pathlib import Path

import weasyprint

GATE = os.environ.get("SONS_FAULTS_PDF_GATE", "")

if GATE:
    _write_pdf = weasyprint.HTML.write_pdf

    def _gated_write_pdf(self, *args, **kwargs):
        try:
            (Path(GATE) / "hold").rename(Path(GATE) / "held")  # only one render is held
        except FileNotFoundError:
            return _write_pdf(self, *args, **kwargs)
        while True:  # inside WeasyPrint's write_pdf until the test kills this process
            time.sleep(1)

    weasyprint.HTML.write_pdf = _gated_write_pdf
