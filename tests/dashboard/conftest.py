"""Dashboard test data, built through the services; the instant judged is frozen."""

import datetime as dt

import pytest

from catalogue.models import VendorMember
from payments.models import ClaimKind, ClaimStatus, PaymentClaim
from payments.services import claims, recovery
from sons.services import orders
from tests.factories import SolutionVersionFactory
from tests.sons.factories import ClientFactory, at_paris, lgc_dispositif, referenced, signed_order

URL = "/admin/tableau-de-bord/"
SIGNED = at_paris(2022, 9, 1, 10)
AVANCE_OPENED = at_paris(2022, 9, 5, 10)


@pytest.fixture(autouse=True)
def fresh_figures(settings):
    """Counts and charts computed at every request (each test builds its own data)."""
    settings.DASHBOARD_FIGURES_SECONDS = 0


@pytest.fixture
def frozen(monkeypatch):
    """Freezes the dashboard's clock: `frozen(at)` makes every page judge at `at`."""

    def freeze(at: dt.datetime) -> dt.datetime:
        monkeypatch.setattr("dashboard.views.now", lambda: at)
        return at

    return freeze


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def vendor_member(client, django_user_model):
    editor = SolutionVersionFactory().solution.editor
    user = django_user_model.objects.create_user("editeur", "e@example.invalid", "pw")
    VendorMember.objects.create(user=user, vendor=editor)
    client.force_login(user)
    return client


class World:
    """One dispositif (LGC calendar: orders and avances end 30/11/2022 14:00, réalisation
    20/09/2023 14:00, soldes 14/12/2023 14:00) with two referenced vendors."""

    def __init__(self, actor, code="DASH-LGC-V1"):
        self.actor = actor
        self.dispositif = lgc_dispositif(code=code)
        self.ref_a = referenced(dispositif=self.dispositif, actor=actor)
        self.ref_b = referenced(
            dispositif=self.dispositif, actor=actor, version=SolutionVersionFactory()
        )
        self.vendor_a = self.ref_a.vendor
        self.vendor_b = self.ref_b.vendor

    def order(self, *, vendor="a", at=SIGNED, client=None):
        ref = self.ref_a if vendor == "a" else self.ref_b
        return signed_order(referencing=ref, actor=self.actor, at=at, client=client)

    def avance(self, order, *, at=AVANCE_OPENED):
        return claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=self.actor, at=at)

    def pay(self, claim, *, submitted_at, paid_on):
        """Test shortcut for the agency's side (filed, then paid), covered by tests/payments."""
        PaymentClaim.objects.filter(pk=claim.pk).update(
            status=ClaimStatus.PAID,
            submitted_at=submitted_at,
            paid_on=paid_on,
            paid_amount_cents=claim.amount_ttc_cents,
        )
        claim.refresh_from_db()
        return claim

    def defaulted_with_recovery(self, *, vendor="a"):
        order = self.order(vendor=vendor)
        avance = self.avance(order)
        self.pay(avance, submitted_at=at_paris(2022, 9, 20, 10), paid_on=dt.date(2022, 10, 3))
        order = orders.declare_default(
            order=order, actor=self.actor, reason="Abandon", at=at_paris(2022, 10, 10, 9)
        )
        return recovery.open_recovery(
            order=order,
            cause="default",
            reason="Défaillance après avance",
            actor=self.actor,
            at=at_paris(2022, 10, 12, 9),
        )

    def conflict(self):
        """A client both vendors signed for: a conflict, answers due in 10 working days."""
        client = ClientFactory()
        first = self.order(vendor="a", client=client)
        second = self.order(vendor="b", client=client, at=at_paris(2022, 11, 7, 10))
        return first, second


@pytest.fixture
def world(admin_user):
    return World(admin_user)
