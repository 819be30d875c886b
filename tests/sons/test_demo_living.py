"""The demo shows a living programme (issue 18, point 4): beside the historical vague 1 world,
`seed_demo` builds orders on a demo dispositif whose calendar starts from the day it runs, so that
on that day the pages show an order at risk (SONS.md « End of réalisation, exactly »), a VA waiting
for its client (step 6), a conflict whose windows run (step 3) and a claim to file before its
deadline (step 4). The demo calendar is labelled as such, never taken for an official one."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from catalogue.deadlines import PARIS, DeadlineKind
from catalogue.models import Dispositif
from catalogue.selectors import calendar_in_force
from payments.selectors import past_filing_deadline, unfiled_claims
from sons.demo_marks import DEMO_MARK, dispositif_is_demo
from sons.models import ClientConflict, ConflictStatus, VaStatus, VerificationAptitude
from sons.selectors import orders_at_risk


def seeded_on(today: dt.date) -> tuple[Dispositif, dt.datetime]:
    call_command("load_dispositifs")
    call_command("seed_demo", force=True, today=today)
    (living,) = Dispositif.objects.filter(code__startswith="DEMO-")
    # The pages judge at the day's afternoon: after every act of the demo, before any deadline.
    return living, dt.datetime.combine(today, dt.time(15, 0), tzinfo=PARIS)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "today",
    [
        timezone.now().astimezone(PARIS).date(),
        dt.date(2025, 6, 2),
    ],
    ids=["le-jour-meme", "un-autre-jour"],
)
def test_seed_demo_shows_a_living_programme_on_the_day_it_runs(today):
    living, at = seeded_on(today)
    assert dispositif_is_demo(living)
    assert DEMO_MARK in living.title
    calendar = calendar_in_force(dispositif=living, at=at)
    assert all(DEMO_MARK in a.version.legal_reference for a in calendar.values())
    assert all(a.at > at for a in calendar.values())  # every deadline ahead of that day
    assert calendar[DeadlineKind.REALISATION].at.astimezone(PARIS).date() == (
        today + dt.timedelta(days=22)  # 21 days ahead, to the end of the day (next 00:00)
    )

    at_risk = orders_at_risk(at=at).filter(dispositif=living)
    assert at_risk.exists()
    assert VerificationAptitude.objects.filter(
        order__dispositif=living, status=VaStatus.ISSUED
    ).exists()
    running = ClientConflict.objects.get(dispositif=living)
    assert running.status == ConflictStatus.OPEN and running.respond_by > at
    to_file = unfiled_claims().filter(order__dispositif=living, status="ready")
    assert to_file.exists()
    assert not past_filing_deadline(to_file, at).exists()
    # No official dispositif is taken for a demo one.
    assert not any(dispositif_is_demo(d) for d in Dispositif.objects.exclude(pk=living.pk))
