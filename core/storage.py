"""Where the engine's files live: `STORAGES["default"]`, read from the environment.

Every file the engine writes or reads (the BDC and VA PDFs, signed or sealed, the ASP filings'
JSON and zip, the portal's bulk files, invoices, recovery notices) goes through Django's storage
API (`FieldFile.save`/`.open`, `storage.open`/`.save`/`.delete`), never through a local path: so
with an object storage, any web process or worker on any machine reads what another wrote.

- Embedded default (one machine): the local folder MEDIA_ROOT (FileSystemStorage).
- Object storage (S3-compatible, django-storages): either one variable,
  `STORAGE_URL=s3://bucket[/prefix]?endpoint_url=https://s3.example.fr&region_name=fr-par`,
  or the separate variables `AWS_STORAGE_BUCKET_NAME`, `AWS_S3_ENDPOINT_URL`,
  `AWS_S3_REGION_NAME` (and `AWS_LOCATION`, `AWS_S3_ADDRESSING_STYLE`); what the URL does not
  say is taken from the separate variables. Credentials: `AWS_ACCESS_KEY_ID`,
  `AWS_SECRET_ACCESS_KEY` (`AWS_SESSION_TOKEN`), or boto3's own chain (an instance role) when
  they are unset.

The objects are private (`AWS_DEFAULT_ACL`, « private » by default; set it empty for a bucket
whose ACLs are disabled, where objects are private anyway), never overwritten (a second file of
the same name gets a suffix, as on the local folder), and the storage never hands out a public
address: any URL it makes is signed and short-lived (`AWS_QUERYSTRING_EXPIRE`, 300 s). People
get files through views that check who asks (portal, signing pages, the admin's download view).

Pure: reads the mapping it is given, imports nothing of the project, so the settings can call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

LOCAL_BACKEND = "django.core.files.storage.FileSystemStorage"
S3_BACKEND = "storages.backends.s3.S3Storage"

# Query parameters STORAGE_URL accepts, and the separate variable each one stands for.
URL_PARAMETERS = {
    "endpoint_url": "AWS_S3_ENDPOINT_URL",
    "region_name": "AWS_S3_REGION_NAME",
    "addressing_style": "AWS_S3_ADDRESSING_STYLE",
}
DEFAULT_QUERYSTRING_EXPIRE = 300  # seconds a signed URL lives, should anything ask for one
# A file read from the object storage is buffered in memory up to this size, then on disk.
DEFAULT_MAX_MEMORY_SIZE = 16 * 1024 * 1024


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} doit être un nombre entier (reçu {raw!r}).") from None


def _from_url(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    if parts.scheme != "s3":
        raise ImproperlyConfigured(
            f"STORAGE_URL : schéma « {parts.scheme} » inconnu ; attendu s3://bucket?endpoint_url=… "
            "(ou rien : le dossier local MEDIA_ROOT)."
        )
    if parts.username or parts.password:
        raise ImproperlyConfigured(
            "STORAGE_URL ne porte pas d'identifiants : AWS_ACCESS_KEY_ID et AWS_SECRET_ACCESS_KEY."
        )
    if not parts.hostname:
        raise ImproperlyConfigured("STORAGE_URL : nom du bucket manquant (s3://bucket).")
    found = {
        "AWS_STORAGE_BUCKET_NAME": unquote(parts.netloc),
        "AWS_LOCATION": unquote(parts.path).strip("/"),
    }
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in URL_PARAMETERS:
            raise ImproperlyConfigured(
                f"STORAGE_URL : paramètre « {key} » inconnu "
                f"(connus : {', '.join(sorted(URL_PARAMETERS))})."
            )
        found[URL_PARAMETERS[key]] = value
    return {name: value for name, value in found.items() if value}


def default_storage_from_environ(environ: Mapping[str, str]) -> dict:
    """`STORAGES["default"]` for this environment (see the module's docstring)."""
    url = environ.get("STORAGE_URL", "").strip()
    values = {
        name: environ.get(name, "").strip()
        for name in (
            "AWS_STORAGE_BUCKET_NAME",
            "AWS_LOCATION",
            *URL_PARAMETERS.values(),
        )
    }
    if url:
        values.update(_from_url(url))
    bucket = values["AWS_STORAGE_BUCKET_NAME"]
    if not bucket:
        # No object storage: the local folder, MEDIA_ROOT (read by the storage itself, so a
        # change of MEDIA_ROOT, as the tests make, is followed).
        return {"BACKEND": LOCAL_BACKEND}
    options = {
        "bucket_name": bucket,
        "location": values["AWS_LOCATION"].strip("/"),
        "endpoint_url": values["AWS_S3_ENDPOINT_URL"] or None,
        "region_name": values["AWS_S3_REGION_NAME"] or None,
        "addressing_style": values["AWS_S3_ADDRESSING_STYLE"] or None,
        "signature_version": "s3v4",
        # Private objects, reached only through the engine's views.
        "default_acl": environ.get("AWS_DEFAULT_ACL", "private").strip() or None,
        "querystring_auth": True,
        "querystring_expire": _int(environ, "AWS_QUERYSTRING_EXPIRE", DEFAULT_QUERYSTRING_EXPIRE),
        "custom_domain": None,
        # Names are kept: a second file of the same name gets a suffix, none is replaced.
        "file_overwrite": False,
        "max_memory_size": _int(environ, "AWS_S3_MAX_MEMORY_SIZE", DEFAULT_MAX_MEMORY_SIZE),
    }
    for option, name in (
        ("access_key", "AWS_ACCESS_KEY_ID"),
        ("secret_key", "AWS_SECRET_ACCESS_KEY"),
        ("security_token", "AWS_SESSION_TOKEN"),
    ):
        value = environ.get(name, "").strip()
        if value:
            options[option] = value
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}


def is_local(storage_settings: Mapping) -> bool:
    """Whether a storage setting is the local folder (files seen by one machine only)."""
    return storage_settings.get("BACKEND") == LOCAL_BACKEND
