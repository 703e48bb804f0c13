"""URLs of the agency's remittance pages, under /reversements/."""

from django.urls import path

from amiable.remittances import views

app_name = "remittances"

urlpatterns = [
    path("", views.remittance_list_page, name="list"),
    path("<int:pk>/", views.remittance_detail, name="detail"),
    path("<int:pk>/execution/", views.remittance_executed, name="executed"),
    path("<int:pk>/fichiers/<str:kind>", views.remittance_file, name="file"),
]
