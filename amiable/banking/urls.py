from django.urls import path

from amiable.banking import views

app_name = "banking"

urlpatterns = [
    path("", views.statements, name="statements"),
    path("releves/<int:pk>/", views.statement_detail, name="statement"),
    path("releves/<int:pk>/fichier", views.statement_file, name="statement_file"),
    path("a-examiner/", views.review, name="review"),
    path("mouvements/<int:pk>/affecter/", views.entry_assign, name="assign"),
    path("mouvements/<int:pk>/rapprocher/", views.entry_link, name="link"),
    path("mouvements/<int:pk>/ecarter/", views.entry_dismiss, name="dismiss"),
    path("rapprochement/", views.reconciliation_page, name="reconciliation"),
]
