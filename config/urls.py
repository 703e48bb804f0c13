from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Amiable — administration technique"
admin.site.site_title = "Amiable"
admin.site.index_title = "Administration"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("lots/", include("amiable.intake.urls")),
    path("compte/", include("amiable.web.urls_accounts")),
    path("courriers/", include("amiable.letters.urls")),
    path("travail/", include("amiable.casework.urls")),
    path("banque/", include("amiable.banking.urls")),
    path("paiements/", include("amiable.payments.urls")),
    path("reversements/", include("amiable.remittances.urls")),
    path("factures/", include("amiable.invoicing.urls")),
    path("echeances/", include("amiable.reporting.urls_clocks")),
    path("reunions/", include("amiable.reporting.urls_meetings")),
    path("statistiques/", include("amiable.reporting.urls_quarterly")),
    path("fin/", include("amiable.closure.urls")),
    path("", include("amiable.portal.urls")),
    path("", include("amiable.web.urls")),
]

# A database busy with a large import (SQLite) is told apart from a fault: « réessayez dans une minute », 503.
handler500 = "amiable.web.errors.server_error"
