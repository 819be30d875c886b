"""Signals of the lifecycle, for the apps above it (README, « Upward needs never go through an
import »).

- ``orders_ended(sender, order_ids)``: sent after the commit that cancelled orders or set them
  aside by a conflict decision. Payments listens: money already received for such an order is
  recovered (`payments.services.recovery.recover_ended_orders`).
"""

from __future__ import annotations

from django.dispatch import Signal

orders_ended = Signal()
