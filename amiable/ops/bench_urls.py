"""The URL configuration of `bench_pages`: the application's, plus the floor — a bare view behind the same
middleware (session, user, second factor, messages, CSP…) that reads the logged-in user and renders nothing.
Mounted for the benchmark only, never served."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from config.urls import urlpatterns as application

FLOOR_PATH = "/__banc__/plancher/"


@require_GET
@login_required
def floor(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path(FLOOR_PATH.strip("/") + "/", floor, name="bench_floor"), *application]
