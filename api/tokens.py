"""API tokens: issued to a vendor's users (portal, admin) or to administrators, stored hashed.

A token reads « sons_<prefix>_<secret> »; only its SHA-256 is kept, so it is shown once, at
issue. The prefix names it in lists and logs without revealing it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connections, router, transaction
from django.db.models import Field, Model
from django.db.models.expressions import Col
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalogue.access import is_programme_admin, membership_of
from catalogue.models import Vendor, VendorMember
from core.errors import RuleViolation

from .models import ApiToken

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "sons_"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def default_days() -> int:
    return getattr(settings, "API_TOKEN_DEFAULT_DAYS", 90)


def max_days() -> int:
    return getattr(settings, "API_TOKEN_MAX_DAYS", 365)


@dataclass(frozen=True)
class IssuedToken:
    """The token row and its secret, which is never stored nor shown again."""

    token: ApiToken
    secret: str


def check_issue(*, user: AbstractBaseUser, name: str, days: int):
    """The rules of a new token (name, lifetime, owner); returns the owner's membership."""
    if not name.strip():
        raise RuleViolation(
            "token_name_required",
            _("Donnez un nom au jeton (l'outil qui l'utilise)."),
            field="name",
        )
    if not 1 <= days <= max_days():
        raise RuleViolation(
            "token_lifetime_invalid",
            _("La durée de validité d'un jeton va de 1 à %(max)s jours."),
            field="days",
            max=max_days(),
        )
    membership = membership_of(user)
    if (membership is None and not is_programme_admin(user)) or (
        membership is not None and user.is_staff
    ):
        raise RuleViolation(
            "token_owner_invalid",
            _("Un jeton est délivré au membre d'un fournisseur ou à un administrateur."),
            field="user",
        )
    if not user.is_active:
        raise RuleViolation("token_owner_invalid", _("Ce compte est désactivé."), field="user")
    return membership


def issue_token(
    *,
    user: AbstractBaseUser,
    name: str,
    days: int | None = None,
    issued_by: AbstractBaseUser | None = None,
    at: dt.datetime | None = None,
) -> IssuedToken:
    """A new token for `user`, acting for the vendor it works for (or as an administrator)."""
    at = at or timezone.now()
    days = default_days() if days is None else days
    membership = check_issue(user=user, name=name, days=days)
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            vendor=membership.vendor if membership else None,
            name=name.strip()[:100],
            prefix=prefix,
            key_hash=hash_token(raw),
            created_at=at,
            created_by=issued_by or user,
            expires_at=at + dt.timedelta(days=days),
        )
    logger.info(
        "api_token_issued token_id=%s user_id=%s vendor_id=%s",
        token.pk,
        user.pk,
        token.vendor_id,
    )
    return IssuedToken(token=token, secret=raw)


def revoke_token(
    *, token: ApiToken, by: AbstractBaseUser, at: dt.datetime | None = None
) -> ApiToken:
    """Revokes the token at once; revoking twice changes nothing."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update(no_key=True).get(pk=token.pk)
        if locked.revoked_at is None:
            locked.revoked_at = at
            locked.revoked_by = by
            locked.save(update_fields=["revoked_at", "revoked_by"])
            logger.info("api_token_revoked token_id=%s by_user_id=%s", locked.pk, by.pk)
    return locked


def find_token(raw: str) -> ApiToken | None:
    """The token whose secret is `raw` (revoked or expired ones included), or None; with its
    owner (`token.user`), its vendor (`token.vendor`) and the vendor its owner works for now
    (`token.member_vendor_id`, None for none), read in one statement.

    Every API call asks it first: the statement is written once per database from the models'
    columns (the ORM would compile the same select_related query again on every call), and
    the rows become model instances through the ORM's own converters (`Model.from_db`)."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    connection = connections[router.db_for_read(ApiToken)]
    statement = _token_statement(connection.alias, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [hash_token(raw)])
        row = cursor.fetchone()
    if row is None:
        return None
    token, user, vendor = (
        _instance(connection, model, fields, row[start : start + len(fields)])
        for model, fields, start in statement.parts
    )
    token_fields = ApiToken._meta
    token_fields.get_field("user").set_cached_value(token, user)
    token_fields.get_field("vendor").set_cached_value(token, vendor if token.vendor_id else None)
    token.member_vendor_id = row[-1]
    return token


@dataclass(frozen=True)
class _Statement:
    sql: str
    # (model, its concrete fields as (field, column, converters), index of its first column)
    parts: tuple[tuple[type[Model], tuple[tuple[Field, Col, list], ...], int], ...]


@functools.lru_cache(maxsize=8)
def _token_statement(alias: str, vendor: str) -> _Statement:
    """SELECT the token's columns, its owner's, its vendor's and the owner's membership vendor
    FROM the token JOIN its owner LEFT JOIN its vendor LEFT JOIN the owner's membership (one
    per user) WHERE the hash is the one given."""
    connection = connections[alias]
    qn = connection.ops.quote_name
    user_model = get_user_model()
    tables = ((ApiToken, "t"), (user_model, "u"), (Vendor, "v"))
    columns, parts = [], []
    for model, table in tables:
        fields = []
        for field in model._meta.concrete_fields:
            column = field.get_col(table)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(
                connection
            )
            fields.append((field, column, converters))
            columns.append(f"{table}.{qn(field.column)}")
        parts.append((model, tuple(fields), len(columns) - len(fields)))
    member = VendorMember._meta
    token = ApiToken._meta
    sql = (
        f"SELECT {', '.join(columns)}, m.{qn(member.get_field('vendor').column)} "
        f"FROM {qn(token.db_table)} t "
        f"INNER JOIN {qn(user_model._meta.db_table)} u "
        f"ON u.{qn(user_model._meta.pk.column)} = t.{qn(token.get_field('user').column)} "
        f"LEFT OUTER JOIN {qn(Vendor._meta.db_table)} v "
        f"ON v.{qn(Vendor._meta.pk.column)} = t.{qn(token.get_field('vendor').column)} "
        f"LEFT OUTER JOIN {qn(member.db_table)} m "
        f"ON m.{qn(member.get_field('user').column)} = t.{qn(token.get_field('user').column)} "
        f"WHERE t.{qn(token.get_field('key_hash').column)} = %s"
    )
    return _Statement(sql=sql, parts=tuple(parts))


def _instance(connection, model, fields, values) -> Model:
    converted = []
    for (_field, column, converters), value in zip(fields, values, strict=True):
        for converter in converters:
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f, _col, _c in fields], converted)


def tokens_visible_to(user: AbstractBaseUser):
    """The tokens a vendor member may see on the token page: its own, or all of its vendor's
    for a vendor administrator."""
    membership = membership_of(user)
    if membership is None:
        return ApiToken.objects.none()
    if membership.is_vendor_admin:
        return ApiToken.objects.filter(vendor=membership.vendor).select_related("user")
    return ApiToken.objects.filter(user=user, vendor=membership.vendor).select_related("user")
