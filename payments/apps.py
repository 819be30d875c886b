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
        from .services.completion_filings import completion_deposited

        # A notice of completion tells the ASP when the filing carrying it is deposited (SONS.md
        # step 4), not when the vendor gave it: this replaces sons' own reading of the notice.
        register_completion_evidence(
            "completion_notice", rows=completion_deposited, instant="filing__transmitted_at"
        )
        from sons.demo import register_paid_avance_hook

        from .demo import pay_avances

        register_paid_avance_hook(pay_avances)  # the demo world's paid avances (seed_demo)
        from sons.demo import register_ready_avance_hook

        from .demo import ready_avances

        register_ready_avance_hook(ready_avances)  # the living demo's claim to file
        from sons.demo import register_deposit_completion_hook

        from .demo import deposit_completions

        register_deposit_completion_hook(deposit_completions)  # the demo's notices deposited
        from sons.signals import orders_ended

        orders_ended.connect(_recover_ended_orders, dispatch_uid="payments.recover_ended")


def _recover_ended_orders(sender, *, order_ids: list[int], **kwargs) -> None:
    """An order cancelled or set aside with its avance paid: its recovery is opened."""
    from .tasks import recover_ended_orders

    recover_ended_orders.delay(order_ids)
