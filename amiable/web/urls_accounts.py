from django.urls import path

from amiable.web import views_accounts as views

app_name = "accounts"

urlpatterns = [
    path("", views.account, name="account"),
    path("verification/", views.two_factor_verify_view, name="verify"),
    path("double-authentification/", views.two_factor_enrol, name="enrol"),
    path("codes-de-secours/", views.recovery_codes, name="recovery_codes"),
    path("equipe/", views.team, name="team"),
    path("equipe/inviter/", views.team_invite, name="team_invite"),
    path("equipe/<int:pk>/", views.team_member, name="team_member"),
    path("equipe/<int:pk>/desactiver/", views.team_member_deactivate, name="team_member_deactivate"),
    path("equipe/<int:pk>/renvoyer-invitation/", views.team_member_resend, name="team_member_resend"),
    path(
        "equipe/<int:pk>/reinitialiser-double-authentification/",
        views.team_member_reset_2fa,
        name="team_member_reset_2fa",
    ),
    path("invitation/<uidb64>/<token>/", views.invitation_accept, name="invitation_accept"),
]
