from django.contrib.auth import views as auth_views
from django.urls import path

from amiable.web import views, views_accounts
from amiable.web.forms import EmailAuthenticationForm

urlpatterns = [
    path("", views.home, name="home"),
    path("dossiers/", views.cases, name="case_list"),
    path("dossiers/export.csv", views.cases_export, {"fmt": "csv"}, name="case_export_csv"),
    path("dossiers/export.xlsx", views.cases_export, {"fmt": "xlsx"}, name="case_export_xlsx"),
    path("dossiers/<int:pk>/", views.case_detail, name="case_detail"),
    path(
        "connexion/",
        auth_views.LoginView.as_view(authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("deconnexion/", auth_views.LogoutView.as_view(), name="logout"),
    path("mot-de-passe/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("mot-de-passe/modifie/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path(
        "mot-de-passe/oublie/",
        views_accounts.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path("mot-de-passe/oublie/envoye/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "mot-de-passe/nouveau/<uidb64>/<token>/",
        views_accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("mot-de-passe/nouveau/fait/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
