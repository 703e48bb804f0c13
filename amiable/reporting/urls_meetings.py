"""URLs of the agency's follow-up meeting pages, under /reunions/."""

from django.urls import path

from amiable.reporting import views_meetings

app_name = "meetings"

urlpatterns = [
    path("", views_meetings.meetings_page, name="list"),
    path("<int:pk>/", views_meetings.meeting_page, name="detail"),
    path("<int:pk>/compte-rendu/", views_meetings.meeting_minutes, name="minutes"),
    path("<int:pk>/dossier-de-seance/", views_meetings.meeting_pack, name="pack_build"),
    path("<int:pk>/fichiers/<str:kind>", views_meetings.meeting_file, name="file"),
]
