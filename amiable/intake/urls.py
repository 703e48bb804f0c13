from django.urls import path

from amiable.intake import views

app_name = "intake"

urlpatterns = [
    path("", views.batches, name="batches"),
    path("transmettre/", views.batch_upload, name="upload"),
    path("import/<uuid:pk>/", views.job_status, name="job"),
    path("<int:pk>/", views.batch_detail, name="batch"),
    path("<int:pk>/accuse-de-reception.<str:kind>", views.batch_document, name="document"),
]
