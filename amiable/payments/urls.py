from django.urls import path

from amiable.payments import views  # noqa: F401  (the pages of the money come here)
from amiable.payments.views_statement import statement_document, statement_page, statement_pdf_view

app_name = "payments"

urlpatterns = []

# The financial statement of a case (C34): the page, its PDF, and the statements sent to the creditor.
urlpatterns += [
    path("dossier/<int:pk>/decompte/", statement_page, name="statement"),
    path("dossier/<int:pk>/decompte/pdf/", statement_pdf_view, name="statement_pdf"),
    path("decomptes/<int:pk>/", statement_document, name="statement_document"),
]
