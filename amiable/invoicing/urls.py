"""URLs of the agency's invoice pages, under /factures/."""

from django.urls import path

from amiable.invoicing import views

app_name = "invoicing"

urlpatterns = [
    path("", views.invoice_list_page, name="list"),
    path("<int:pk>/", views.invoice_detail, name="detail"),
    path("<int:pk>/paiement/", views.invoice_paid, name="paid"),
    path("<int:pk>/pdf/", views.invoice_pdf, name="pdf"),
]
