from django.urls import path

from amiable.payments import views

app_name = "payments"

urlpatterns = [
    path("recus/<int:pk>.pdf", views.receipt_download, name="receipt_download"),
]
