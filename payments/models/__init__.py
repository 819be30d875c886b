from .claim import (
    FILABLE_CLAIM_KINDS,
    FILED_CLAIM_STATUSES,
    LIVE_CLAIM_STATUSES,
    UNFILED_CLAIM_STATUSES,
    ClaimKind,
    ClaimStatus,
    PaymentClaim,
)
from .completion import COMPLETION_FILING_KIND, CompletionDecision, FiledCompletion
from .filing import AspFiling, FeedbackImport, FilingStatus
from .recovery import LIVE_RECOVERY_STATUSES, Recovery, RecoveryCause, RecoveryStatus

__all__ = [
    "COMPLETION_FILING_KIND",
    "FILABLE_CLAIM_KINDS",
    "FILED_CLAIM_STATUSES",
    "LIVE_CLAIM_STATUSES",
    "LIVE_RECOVERY_STATUSES",
    "UNFILED_CLAIM_STATUSES",
    "AspFiling",
    "ClaimKind",
    "ClaimStatus",
    "CompletionDecision",
    "FeedbackImport",
    "FiledCompletion",
    "FilingStatus",
    "PaymentClaim",
    "Recovery",
    "RecoveryCause",
    "RecoveryStatus",
]
