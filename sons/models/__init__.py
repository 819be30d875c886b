from .acceptance import (
    LIVE_VA_STATUSES,
    MomDeclaration,
    VaDecision,
    VaStatus,
    VerificationAptitude,
)
from .client import Client, ClientKind, ClientRelationship
from .completion import CompletionNotice
from .conflict import (
    UNRESOLVED_CONFLICT_STATUSES,
    ClientConflict,
    ConflictPosition,
    ConflictStatus,
    Decision,
)
from .deployment import Deployment, DeploymentStatus
from .gates import (
    OnPreseries,
    PilotPerimeter,
    PilotSite,
    PilotStatus,
    PreseriesStatus,
    UsageMeasurement,
)
from .order import (
    CLAIMING_STATUSES,
    LIVE_ORDER_STATUSES,
    OrderStatus,
    PurchaseOrder,
    SignatureMethod,
)

__all__ = [
    "CLAIMING_STATUSES",
    "LIVE_ORDER_STATUSES",
    "LIVE_VA_STATUSES",
    "UNRESOLVED_CONFLICT_STATUSES",
    "Client",
    "ClientConflict",
    "ClientKind",
    "ClientRelationship",
    "CompletionNotice",
    "ConflictPosition",
    "ConflictStatus",
    "Decision",
    "Deployment",
    "DeploymentStatus",
    "MomDeclaration",
    "OnPreseries",
    "OrderStatus",
    "PilotPerimeter",
    "PilotSite",
    "PilotStatus",
    "PreseriesStatus",
    "PurchaseOrder",
    "SignatureMethod",
    "UsageMeasurement",
    "VaDecision",
    "VaStatus",
    "VerificationAptitude",
]
