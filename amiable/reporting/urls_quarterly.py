"""URLs of the agency's quarterly statistics, under /statistiques/."""

from django.urls import path

from amiable.reporting import views_quarterly

app_name = "reporting"

urlpatterns = [
    path("", views_quarterly.quarterly_page, name="quarterly"),
    path("<int:pk>/classeur.xlsx", views_quarterly.quarterly_file, name="quarterly_file"),
]
