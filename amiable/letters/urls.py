from django.urls import path

from amiable.letters import views as views_letters

app_name = "letters"

urlpatterns = [
    path("dossier/<int:case_pk>/apercu/<slug:kind>/", views_letters.letter_preview_pdf, name="preview"),
    path("dossier/<int:case_pk>/emettre/", views_letters.letter_issue_post, name="issue"),
    path("<int:letter_pk>.pdf", views_letters.letter_download, name="download"),
]
