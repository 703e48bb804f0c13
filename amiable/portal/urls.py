from django.urls import path

from amiable.portal import views

urlpatterns = [
    path("dossiers/<int:pk>/commentaires/", views.comment_post, name="comment_post"),
    path("dossiers/<int:pk>/demandes/", views.case_request_post, name="case_request_post"),
    path("dossiers/<int:pk>/decisions/", views.approval_ask, name="approval_ask"),
    path("dossiers/<int:pk>/retrait/", views.case_recall_post, name="case_recall"),
    path("validations/", views.approvals_inbox, name="approvals"),
    path("validations/<int:pk>/decision/", views.approval_decide_post, name="approval_decide"),
    path("demandes/", views.requests_page, name="requests"),
    path("demandes/<int:pk>/reponse/", views.request_answer_post, name="request_answer"),
    path("demandes/<int:pk>/creneaux/", views.meeting_slots_post, name="meeting_slots"),
    path("demandes/creneaux/<int:pk>/confirmation/", views.meeting_confirm_post, name="meeting_confirm"),
    path("etat-des-creances.xlsx", views.claims_report, name="claims_report"),
    path("notifications/", views.notifications_page, name="notifications"),
]
