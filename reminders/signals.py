"""What the reminders app tells whoever listens, without knowing who listens.

``deadline_reminders_recorded`` is sent inside the transaction that records a run's reminders
to the vendors, once per run that recorded at least one. Its ``announcements`` argument is a
list of ``(vendor id, payload)``: the reminder as an integration sees it (dispositif, deadline
kind and instant, legal reference, threshold, order references). The API connects to it in
``api.apps`` and turns each into a « deadline.reminder » webhook; receivers work in the same
transaction (what they write commits or rolls back with the reminders).
"""

from django.dispatch import Signal

deadline_reminders_recorded = Signal()
