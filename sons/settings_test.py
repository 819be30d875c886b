"""Settings for the test suite: the production settings with test-only conveniences."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")

from .settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False  # the test client speaks plain HTTP
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# No collected static files in tests: Django's finders serve them.
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise.")]  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# The webhook tests' receivers listen on 127.0.0.1 (api/destinations.py refuses it otherwise).
API_WEBHOOK_ALLOW_LOOPBACK = True
# API calls written as each is made (tests/api/test_tokens.py checks the batches).
API_CALL_BATCH = 1
# Tasks run inside the request as before; tests/core/test_after_response.py switches it on.
TASKS_AFTER_RESPONSE = False
SERVER_TIMING = True
