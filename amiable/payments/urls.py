from django.urls import path  # noqa: F401

from amiable.payments import views  # noqa: F401  (the pages of the money come here)

app_name = "payments"

urlpatterns = []
