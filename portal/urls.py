from django.urls import path

from .views import auth, claims, clients, home, imports, members, orders, vas

app_name = "portal"

urlpatterns = [
    path("", home.home, name="home"),
    # signing in
    path("connexion/", auth.login_view, name="login"),
    path("connexion/code/", auth.login_code, name="login_code"),
    path("connexion/double-authentification/", auth.enrol, name="enrol"),
    path("deconnexion/", auth.logout_view, name="logout"),
    path("mot-de-passe/oublie/", auth.password_reset, name="password_reset"),
    path("mot-de-passe/<str:uidb64>/<str:token>/", auth.set_password, name="set_password"),
    path("compte/", auth.account, name="account"),
    # people of the vendor
    path("utilisateurs/", members.member_list, name="members"),
    path("utilisateurs/<int:pk>/<str:step>/", members.member_update, name="member_update"),
    # clients, one at a time
    path("clients/", clients.client_list, name="clients"),
    path("clients/nouveau/", clients.client_create, name="client_create"),
    path("clients/<int:pk>/modifier/", clients.client_update, name="client_update"),
    # orders
    path("bdc/", orders.order_list, name="orders"),
    path("bdc/nouveau/", orders.order_create, name="order_create"),
    path("bdc/<int:pk>/modifier/", orders.order_update, name="order_update"),
    path("bdc/export.csv", orders.order_export, name="order_export"),
    path("bdc/<int:pk>/", orders.order_detail, name="order_detail"),
    path("bdc/<int:pk>/bdc.pdf", orders.order_pdf, name="order_pdf"),
    path("bdc/<int:pk>/actions/<str:action>/", orders.order_action, name="order_action"),
    # bulk files
    path("imports/", imports.import_list, name="imports"),
    path("imports/modele.csv", imports.import_template, name="import_template"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/progression.json", imports.import_progress, name="import_progress"),
    path("imports/<int:pk>/confirmer/", imports.import_confirm, name="import_confirm"),
    path("imports/<int:pk>/erreurs.csv", imports.import_errors, name="import_errors"),
    path("imports/<int:pk>/fichier", imports.import_file, name="import_file"),
    # VA
    path("va/", vas.va_list, name="vas"),
    path("va/<int:pk>/renvoyer/", vas.va_resend, name="va_resend"),
    path("va/<int:pk>/va.pdf", vas.va_pdf, name="va_pdf"),
    path("va/<int:pk>/va-signee.pdf", vas.va_signed_pdf, name="va_signed_pdf"),
    # claims and filings
    path("demandes/", claims.claim_list, name="claims"),
    path("demandes/ouvrir/<int:pk>/<str:kind>/", claims.claim_open, name="claim_open"),
    path("demandes/<int:pk>/", claims.claim_detail, name="claim_detail"),
    path("demandes/<int:pk>/facture/", claims.claim_invoice, name="claim_attach_invoice"),
    path("demandes/<int:pk>/facture.pdf", claims.claim_invoice_pdf, name="claim_invoice"),
    path("demandes/<int:pk>/<str:step>/", claims.claim_step, name="claim_step"),
    path("depots/constituer/", claims.filing_build, name="filing_build"),
    path("depots/<int:pk>/", claims.filing_detail, name="filing_detail"),
    path("depots/<int:pk>/fichier.json", claims.filing_json, name="filing_json"),
    path("depots/<int:pk>/pieces.zip", claims.filing_zip, name="filing_zip"),
    path("depots/<int:pk>/transmettre/", claims.filing_transmit, name="filing_transmit"),
    path("retours-asp/", claims.feedback_upload, name="feedback"),
]
