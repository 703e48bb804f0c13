from django.urls import path

from amiable.intake import views

app_name = "intake"

urlpatterns = [
    path("", views.batches, name="batches"),
    path("transmettre/", views.batch_upload, name="upload"),
    # The format is in the path, not a parameter: these URLs name no object of a creditor.
    path("transmettre/modele.csv", views.batch_template_download, {"kind": "csv"}, name="template_csv"),
    path("transmettre/modele.xlsx", views.batch_template_download, {"kind": "xlsx"}, name="template_xlsx"),
    path("import/<uuid:pk>/", views.job_status, name="job"),
    path("import/<uuid:pk>/confirmer/", views.job_confirm, name="job_confirm"),
    path("import/<uuid:pk>/annuler/", views.job_cancel, name="job_cancel"),
    path("<int:pk>/", views.batch_detail, name="batch"),
    path("<int:pk>/accuse-de-reception.<str:kind>", views.batch_document, name="document"),
]
