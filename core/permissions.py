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
    permissions of `app_config`'s models, in one read and at most one write per app."""
    if not app_config.models_module:
        return
    try:
        Permission = apps.get_model("auth", "Permission")
    except LookupError:
        return
    if not router.allow_migrate_model(using, Permission):
        return
    with translation.override("fr"):
        wanted = {
            (opts.model_name, f"{action}_{opts.model_name}"): french_name(
                action, str(opts.verbose_name)
            )
            for opts in (model._meta for model in app_config.get_models())
            for action in opts.default_permissions
            if action in ACTIONS
        }
    if not wanted:
        return
    permissions = (
        Permission.objects.using(using)
        .filter(content_type__app_label=app_config.label)
        .values_list("pk", "content_type__model", "codename", "name")
    )
    renamed = [
        Permission(pk=pk, name=wanted[(model, codename)])
        for pk, model, codename, name in permissions
        if (model, codename) in wanted and name != wanted[(model, codename)]
    ]
    if renamed:
        Permission.objects.using(using).bulk_update(renamed, ["name"], batch_size=500)
