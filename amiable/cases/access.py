"""Who may act on a case from the agency's pages."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from amiable.accounts.permissions import can_work_cases
from amiable.cases.models import Case
from amiable.cases.selectors import case_get


def agency_case(request: HttpRequest, pk: int) -> Case:
    """The case if the person may see it — otherwise « not found », as on every case URL — and only for
    agency staff (the case's own creditor staff are « forbidden »)."""
    try:
        case = case_get(user=request.user, pk=pk)
    except Case.DoesNotExist as exc:
        raise Http404("Dossier introuvable.") from exc
    if not can_work_cases(request.user):
        raise PermissionDenied("Réservé à l'agence.")
    return case
