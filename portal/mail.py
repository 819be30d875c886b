"""Mails the portal sends: the link where an invited (or forgetful) person sets a password."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

logger = logging.getLogger(__name__)


def password_link(user, base_url: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("portal:set_password", kwargs={"uidb64": uid, "token": token})
    return f"{base_url.rstrip('/')}{path}"


def send_password_link(*, user_id: int, base_url: str, invitation: bool) -> None:
    user = get_user_model().objects.select_related("vendor_membership__vendor").get(pk=user_id)
    if not user.is_active or not user.email:
        logger.warning("password_link_skipped user_id=%s", user_id)
        return
    link = password_link(user, base_url)
    vendor = user.vendor_membership.vendor.name
    if invitation:
        subject = "[SONS] Votre accès au portail des fournisseurs"
        intro = (
            f"Un administrateur de {vendor} vous a ouvert un accès au portail SONS des "
            "fournisseurs (Ségur du numérique en santé)."
        )
    else:
        subject = "[SONS] Choisir un nouveau mot de passe"
        intro = "Vous avez demandé à choisir un nouveau mot de passe pour le portail SONS."
    body = (
        f"Bonjour,\n\n{intro}\n\nChoisissez votre mot de passe à cette adresse :\n{link}\n\n"
        f"Votre identifiant : {user.get_username()}\n"
        "Ce lien ne sert qu'une fois. Si vous n'êtes pas à l'origine de cette demande, "
        "ignorez ce message."
    )
    send_mail(subject, body, None, [user.email])
    logger.info("password_link_sent user_id=%s invitation=%s", user_id, invitation)
