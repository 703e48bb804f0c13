from django.urls import path

from amiable.payments import views, views_plans

app_name = "payments"

urlpatterns = [
    # Payment plans (C16, C37) and the debtor's other proposals (C19).
    path("dossiers/<int:case_pk>/plan/", views_plans.plan_form, name="plan_form"),
    path("dossiers/<int:case_pk>/plan/apercu/", views_plans.plan_preview, name="plan_preview"),
    path("dossiers/<int:case_pk>/plan/proposer/", views_plans.plan_propose_post, name="plan_propose"),
    path("dossiers/<int:case_pk>/proposition/", views_plans.settlement_post, name="settlement_propose"),
    path("plans/<int:pk>/pdf/", views_plans.plan_pdf, name="plan_pdf"),
    path("recus/<int:pk>.pdf", views.receipt_download, name="receipt_download"),
]
