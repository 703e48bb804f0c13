"""URLs of the money, under /paiements/: the forms of a case's « Paiements » card (POST only) and the
« Fonds de tiers » page; the receipts' PDFs; the financial statement of a case."""

from django.urls import path

from amiable.payments import views, views_plans, views_receipts
from amiable.payments.views_statement import statement_document, statement_page, statement_pdf_view

app_name = "payments"

urlpatterns = [
    path("dossiers/<int:pk>/paiement/", views.record, name="record"),
    path("dossiers/<int:pk>/paiement-direct/", views.declare, name="declare"),
    path("dossiers/<int:pk>/paiements/<int:payment_pk>/rejet/", views.reverse_payment, name="reverse"),
    path("dossiers/<int:pk>/remboursement/", views.refund, name="refund"),
    path("fonds-de-tiers/", views.client_funds, name="client_funds"),
    path("recus/<int:pk>.pdf", views_receipts.receipt_download, name="receipt_download"),
    # The financial statement of a case (C34): the page, its PDF, and the statements sent to the creditor.
    path("dossiers/<int:pk>/decompte/", statement_page, name="statement"),
    path("dossiers/<int:pk>/decompte/pdf/", statement_pdf_view, name="statement_pdf"),
    path("decomptes/<int:pk>/", statement_document, name="statement_document"),
    # Payment plans (C16, C37) and the debtor's other proposals (C19).
    path("dossiers/<int:case_pk>/plan/", views_plans.plan_form, name="plan_form"),
    path("dossiers/<int:case_pk>/plan/apercu/", views_plans.plan_preview, name="plan_preview"),
    path("dossiers/<int:case_pk>/plan/proposer/", views_plans.plan_propose_post, name="plan_propose"),
    path("dossiers/<int:case_pk>/proposition/", views_plans.settlement_post, name="settlement_propose"),
    path("plans/<int:pk>/pdf/", views_plans.plan_pdf, name="plan_pdf"),
]
