from .claim import LIVE_CLAIM_STATUSES, ClaimKind, ClaimStatus, PaymentClaim
from .filing import AspFiling, FeedbackImport, FilingStatus
from .recovery import Recovery, RecoveryCause, RecoveryStatus

__all__ = [
    "LIVE_CLAIM_STATUSES",
    "AspFiling",
    "ClaimKind",
    "ClaimStatus",
    "FeedbackImport",
    "FilingStatus",
    "PaymentClaim",
    "Recovery",
    "RecoveryCause",
    "RecoveryStatus",
]
