"""URLs of the case work, under /travail/ (agency staff only)."""

from django.urls import path

from amiable.casework import views as views_work
from amiable.contact import views as views_messages

app_name = "work"

urlpatterns = [
    path("ma-journee/", views_work.day, name="day"),
    path("ma-journee/reassigner/", views_work.day_reassign, name="day_reassign"),
    path("dossiers/attribuer/", views_work.cases_assign, name="cases_assign"),
    path("dossiers/<int:pk>/attribuer/", views_work.case_assign_post, name="case_assign"),
    path("dossiers/<int:pk>/actions/", views_work.case_actions, name="case_actions"),
    path("dossiers/<int:pk>/appel/", views_work.call_post, name="call"),
    path("dossiers/<int:pk>/promesse/<int:promise_pk>/tenue/", views_work.promise_kept_post, name="promise_kept"),
    path("dossiers/<int:pk>/evenement/", views_work.event_post, name="event"),
    path("dossiers/<int:pk>/courrier-revenu/", views_work.returned_mail_post, name="returned_mail"),
    path("dossiers/<int:pk>/recherche-adresse/", views_work.investigation_post, name="investigation"),
    path("dossiers/<int:pk>/ne-plus-contacter/", views_work.do_not_contact_post, name="do_not_contact"),
    path("dossiers/<int:pk>/message/<slug:channel>/apercu/", views_messages.message_preview, name="message_preview"),
    path("dossiers/<int:pk>/message/<slug:channel>/", views_messages.message_send, name="message_send"),
    path("dossiers/<int:pk>/coordonnees/", views_messages.contact_point_add_post, name="contact_point_add"),
    path(
        "dossiers/<int:pk>/coordonnees/<int:point_pk>/corriger/",
        views_messages.contact_point_correct_post,
        name="contact_point_correct",
    ),
    path(
        "dossiers/<int:pk>/coordonnees/<int:point_pk>/verifier/",
        views_messages.contact_point_verify_post,
        name="contact_point_verify",
    ),
    path("messages-envoyes/", views_messages.outbox, name="outbox"),
    path("messages-envoyes/<int:pk>/renvoyer/", views_messages.outbox_retry, name="outbox_retry"),
]
