"""URL of the agency's « Échéances » page, under /echeances/."""

from django.urls import path

from amiable.reporting import views_clocks

app_name = "clocks"

urlpatterns = [path("", views_clocks.clocks_page, name="list")]
