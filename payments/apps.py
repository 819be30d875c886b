from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Paiements ASP"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import history

        history.register()  # claims and recoveries in every order's history (sons.history)
        from sons.selectors import register_completion_evidence

        from .selectors import solde_filed

        # By the end of réalisation, a solde filed tells the ASP the prestation is complete as
        # a completion notice does (SONS.md, « End of réalisation, exactly »).
        register_completion_evidence("solde_filed", rows=solde_filed, instant="submitted_at")
        from sons.demo import register_paid_avance_hook

        from .demo import pay_avances

        register_paid_avance_hook(pay_avances)  # the demo world's paid avances (seed_demo)
