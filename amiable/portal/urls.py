from django.urls import path

from amiable.portal import views, views_clocks, views_closure, views_meetings, views_money, views_reports

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
    # The creditor's remittances and invoices (the agency's own pages are /reversements/ and /factures/).
    path("portail/reversements/", views_money.remittances_page, name="portal_remittances"),
    path("portail/reversements/<int:pk>/", views_money.remittance_page, name="portal_remittance"),
    path(
        "portail/reversements/<int:pk>/fichiers/<str:kind>", views_money.remittance_file, name="portal_remittance_file"
    ),
    path("portail/factures/", views_money.invoices_page, name="portal_invoices"),
    path("portail/factures/<int:pk>/", views_money.invoice_page, name="portal_invoice"),
    path("portail/factures/<int:pk>/pdf/", views_money.invoice_pdf, name="portal_invoice_pdf"),
    # The clocks of the contract, as the creditor sees them (the agency's page is /echeances/).
    path("portail/echeances/", views_clocks.clocks_page, name="portal_clocks"),
    # The creditor's follow-up meetings (the agency's pages are /reunions/).
    path("portail/reunions/", views_meetings.meetings_page, name="portal_meetings"),
    path("portail/reunions/<int:pk>/", views_meetings.meeting_page, name="portal_meeting"),
    path("portail/reunions/<int:pk>/fichiers/<str:kind>", views_meetings.meeting_file, name="portal_meeting_file"),
    # The creditor's quarterly statistics (the agency's page is /statistiques/).
    path("portail/statistiques/", views_reports.reports_page, name="portal_reports"),
    path("portail/statistiques/<int:pk>/classeur.xlsx", views_reports.report_file, name="portal_report_file"),
    # The end of the creditor's cases: certificates of irrecoverability (C10) and documents returned (C25).
    path("portail/certificats/", views_closure.certificates_page, name="portal_certificates"),
    path("portail/certificats/<int:pk>/pdf/", views_closure.certificate_pdf, name="portal_certificate_pdf"),
    path("portail/restitutions/", views_closure.returns_page, name="portal_returns"),
]
