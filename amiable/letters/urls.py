from django.urls import path

from amiable.letters import views as views_letters

app_name = "letters"

urlpatterns = [
    path("dossier/<int:case_pk>/apercu/<slug:kind>/", views_letters.letter_preview_pdf, name="preview"),
    path("dossier/<int:case_pk>/emettre/", views_letters.letter_issue_post, name="issue"),
    path("a-imprimer/", views_letters.print_queue, name="print_queue"),
    path("a-imprimer/lot/", views_letters.print_build, name="print_build"),
    path("a-imprimer/<str:stem>.<slug:ext>", views_letters.print_file, name="print_file"),
    path("<int:letter_pk>.pdf", views_letters.letter_download, name="download"),
]
