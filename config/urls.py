from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Amiable — administration technique"
admin.site.site_title = "Amiable"
admin.site.index_title = "Administration"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("lots/", include("amiable.intake.urls")),
    path("compte/", include("amiable.accounts.urls")),
    path("courriers/", include("amiable.actions.urls_letters")),
    path("travail/", include("amiable.actions.urls_work")),
    path("", include("amiable.portal.urls")),
    path("", include("amiable.web.urls")),
]
