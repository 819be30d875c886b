from .dispositif import (
    Acceptance,
    CalendarVersion,
    Couloir,
    Deadline,
    Dispositif,
    Prestation,
    Tariff,
    TariffTerm,
    TariffTier,
    UsageGate,
)
from .referencing import LIVE_STATUSES, Referencing, ReferencingStatus
from .vendor import DistributionMandate, Solution, SolutionVersion, Vendor, VendorMember

__all__ = [
    "LIVE_STATUSES",
    "Acceptance",
    "CalendarVersion",
    "Couloir",
    "Deadline",
    "Dispositif",
    "DistributionMandate",
    "Prestation",
    "Referencing",
    "ReferencingStatus",
    "Solution",
    "SolutionVersion",
    "Tariff",
    "TariffTerm",
    "TariffTier",
    "UsageGate",
    "Vendor",
    "VendorMember",
]
