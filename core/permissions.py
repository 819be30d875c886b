"""Permission names in French.

Django names the permissions it creates for each model « Can add … », « Can change … »,
« Can delete … », « Can view … », in English whatever the language, and stores the name: the
administrators read them in the groups' and users' pages. After each migration, the default
permissions of every model are named again in French from the model's French name; the codenames,
which the code checks, never change.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS, router
from django.utils import translation

ACTIONS = {
    "add": "Peut ajouter",
    "change": "Peut modifier",
    "delete": "Peut supprimer",
    "view": "Peut voir",
}


def french_name(action: str, verbose_name: str) -> str:
    return f"{ACTIONS[action]} : {verbose_name}"[:255]


def name_permissions_in_french(
    app_config, using=DEFAULT_DB_ALIAS, apps=global_apps, **kwargs
) -> None:
    """The post_migrate receiver (after auth's, which creates them): renames the default
    permissions of `app_config`'s models."""
    if not app_config.models_module:
        return
    try:
        Permission = apps.get_model("auth", "Permission")
        ContentType = apps.get_model("contenttypes", "ContentType")
    except LookupError:
        return
    if not router.allow_migrate_model(using, Permission):
        return
    with translation.override("fr"):
        for model in app_config.get_models():
            opts = model._meta
            content_type = (
                ContentType.objects.db_manager(using)
                .filter(app_label=opts.app_label, model=opts.model_name)
                .first()
            )
            if content_type is None:
                continue
            verbose_name = str(opts.verbose_name)
            for action in opts.default_permissions:
                if action not in ACTIONS:
                    continue
                Permission.objects.db_manager(using).filter(
                    content_type=content_type, codename=f"{action}_{opts.model_name}"
                ).exclude(name=french_name(action, verbose_name)).update(
                    name=french_name(action, verbose_name)
                )
