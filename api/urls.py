"""/api/v1/: the vendors' REST API, its schema and its documentation page."""

from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from .errors import not_found_view
from .views import admin, bulk, catalogue, clients, delivery, docs, orders, payments, webhooks
from .views.conflicts import AdminConflictViewSet, ConflictViewSet

app_name = "api"


class Router(SimpleRouter):
    """Trailing slashes, and no `.json` format suffixes."""

    include_format_suffixes = False


router = Router()
router.register("dispositifs", catalogue.DispositifViewSet, basename="dispositif")
router.register("solutions", catalogue.SolutionViewSet, basename="solution")
router.register("referencings", catalogue.ReferencingViewSet, basename="referencing")
router.register("clients", clients.ClientViewSet, basename="client")
router.register("orders", orders.OrderViewSet, basename="order")
router.register("bulk-jobs", bulk.BulkJobViewSet, basename="bulk-job")
router.register("deployments", delivery.DeploymentViewSet, basename="deployment")
router.register("vas", delivery.VaViewSet, basename="va")
router.register("moms", delivery.MomViewSet, basename="mom")
router.register("claims", payments.ClaimViewSet, basename="claim")
router.register("filings", payments.FilingViewSet, basename="filing")
router.register("feedback-imports", payments.FeedbackViewSet, basename="feedback-import")
router.register("webhooks", webhooks.WebhookViewSet, basename="webhook")
router.register("admin/referencings", admin.AdminReferencingViewSet, basename="admin-referencing")
router.register("admin/preseries", admin.AdminPreseriesViewSet, basename="admin-preseries")
router.register("admin/recoveries", admin.AdminRecoveryViewSet, basename="admin-recovery")
router.register("conflicts", ConflictViewSet, basename="conflict")
router.register("admin/conflicts", AdminConflictViewSet, basename="admin-conflict")

urlpatterns = [
    path("schema/", docs.schema_view, name="schema"),
    path("docs/", docs.documentation_view, name="docs"),
    path("me/", catalogue.MeViewSet.as_view({"get": "retrieve_me"}), name="me"),
    path("", include(router.urls)),
    re_path(r"^[\s\S]*$", not_found_view),  # any other path, newlines included
]
