"""URLs of the agency's pages of the end of cases, under /fin/."""

from django.urls import path

from amiable.closure import views

app_name = "closure"

urlpatterns = [
    path("certificats/", views.certificates_due_page, name="certificates_due"),
    path("certificats/<int:pk>/pdf/", views.certificate_pdf, name="certificate_pdf"),
    path("justificatifs/<int:pk>/", views.evidence_file, name="evidence"),
    path("restitutions/", views.returns_page, name="returns"),
    path("restitutions/<int:pk>/", views.return_mark_post, name="return_mark"),
    path("dossiers/<int:pk>/irrecouvrable/", views.declare_post, name="declare"),
    path("dossiers/<int:pk>/levee-suspension/", views.lift_post, name="lift"),
    path("dossiers/<int:pk>/reouverture/", views.reopen_post, name="reopen"),
    path("dossiers/<int:pk>/fin-de-contrat/", views.end_of_contract_post, name="end_of_contract"),
]
