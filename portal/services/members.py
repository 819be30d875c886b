"""A vendor administrator manages its people: invite, change a role, deactivate, reactivate.

Each change is journaled on the membership, so who let whom in (or out) is on record.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from catalogue.models import Vendor, VendorMember
from core.errors import RuleViolation
from core.journal import record_transition
from portal import tasks


def invite_member(
    *,
    vendor: Vendor,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    actor,
    base_url: str,
) -> VendorMember:
    """A new account for the vendor, without a password: the person chooses it from the link
    mailed to them once the account is committed."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise RuleViolation(
            "email_invalid",
            _("L'adresse « %(email)s » n'est pas valide."),
            field="email",
            email=email,
        ) from None
    if role not in VendorMember.Role.values:
        raise RuleViolation("role_invalid", _("Rôle inconnu."), field="role")
    if not (first_name.strip() and last_name.strip()):
        raise RuleViolation(
            "name_required", _("Le prénom et le nom sont obligatoires."), field="last_name"
        )
    user_model = get_user_model()
    with transaction.atomic():
        if user_model.objects.filter(username__iexact=email).exists() or (
            user_model.objects.filter(email__iexact=email).exists()
        ):
            raise RuleViolation(
                "account_exists",
                _("Un compte existe déjà pour l'adresse %(email)s."),
                field="email",
                email=email,
            )
        user = user_model(
            username=email,
            email=email,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
        )
        user.set_unusable_password()
        user.save()
        member = VendorMember.objects.create(user=user, vendor=vendor, role=role)
        record_transition(obj=member, transition="invite", source="", target=role, actor=actor)
        transaction.on_commit(lambda: tasks.send_invitation.delay(user.pk, base_url))
    return member


def _active_admins(vendor_id: int):
    return VendorMember.objects.filter(
        vendor_id=vendor_id, role=VendorMember.Role.ADMIN, user__is_active=True
    )


def _refuse_last_admin(member: VendorMember) -> None:
    if (
        member.is_vendor_admin
        and member.user.is_active
        and not _active_admins(member.vendor_id).exclude(pk=member.pk).exists()
    ):
        raise RuleViolation(
            "last_vendor_admin",
            _(
                "%(name)s est le dernier administrateur actif du fournisseur : nommez-en un autre "
                "d'abord."
            ),
            field="role",
            name=member.user.get_full_name() or member.user.get_username(),
        )


def change_role(*, member: VendorMember, role: str, actor) -> VendorMember:
    if role not in VendorMember.Role.values:
        raise RuleViolation("role_invalid", _("Rôle inconnu."), field="role")
    with transaction.atomic():
        member = (
            VendorMember.objects.select_for_update(no_key=True)
            .select_related("user")
            .get(pk=member.pk)
        )
        # Admins are locked too, so that two demotions at once cannot leave none.
        list(_active_admins(member.vendor_id).select_for_update(no_key=True))
        if member.role == role:
            return member
        if role != VendorMember.Role.ADMIN:
            _refuse_last_admin(member)
        source = member.role
        member.role = role
        member.save(update_fields=["role"])
        record_transition(
            obj=member, transition="change_role", source=source, target=role, actor=actor
        )
    return member


def deactivate_member(*, member: VendorMember, actor) -> VendorMember:
    """The person can no longer sign in (nor use an open session); their history stays."""
    if member.user_id == getattr(actor, "pk", None):
        raise RuleViolation(
            "cannot_deactivate_self",
            _("Vous ne pouvez pas désactiver votre propre compte."),
            field="user",
        )
    with transaction.atomic():
        member = (
            VendorMember.objects.select_for_update(no_key=True)
            .select_related("user")
            .get(pk=member.pk)
        )
        list(_active_admins(member.vendor_id).select_for_update(no_key=True))
        _refuse_last_admin(member)
        if not member.user.is_active:
            return member
        member.user.is_active = False
        member.user.save(update_fields=["is_active"])
        record_transition(
            obj=member, transition="deactivate", source="active", target="inactive", actor=actor
        )
    return member


def reactivate_member(*, member: VendorMember, actor) -> VendorMember:
    with transaction.atomic():
        member = (
            VendorMember.objects.select_for_update(no_key=True)
            .select_related("user")
            .get(pk=member.pk)
        )
        if member.user.is_active:
            return member
        member.user.is_active = True
        member.user.save(update_fields=["is_active"])
        record_transition(
            obj=member, transition="reactivate", source="inactive", target="active", actor=actor
        )
    return member
