"""The claims report (état des créances, C40): every case of a creditor the user may see, as XLSX."""

import io

from django.db.models import CharField, DateTimeField, OuterRef, Subquery

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import internal_verbs, verb_label
from amiable.cases.models import Case
from amiable.core.money import ZERO
from amiable.core.spreadsheets import write_xlsx

HEADER = [
    "Référence",
    "Structure",
    "Civilité",
    "Nom",
    "Prénom",
    "Reçu le",
    "Montant réclamé",
    "Montant recouvré",
    "Reste dû",
    "Statut",
    "Dernière action",
    "Date de la dernière action",
]


def claims_report_rows(*, user, creditor_id: int | None = None):
    """One row per case, streamed; recovered amounts are zero until payments are recorded."""
    last = AuditEvent.objects.filter(case_pk=OuterRef("pk"))
    if not user.is_agency:
        last = last.exclude(verb__in=internal_verbs())
    last = last.order_by("-at", "-pk")
    qs = (
        Case.objects.visible_to(user)
        .select_related("structure", "debtor")
        .annotate(
            last_verb=Subquery(last.values("verb")[:1], output_field=CharField()),
            last_at=Subquery(last.values("at")[:1], output_field=DateTimeField()),
        )
        .order_by("structure__code", "reference", "pk")
    )
    if creditor_id:
        qs = qs.filter(creditor_id=creditor_id)
    for case in qs.iterator(chunk_size=2000):
        recovered = ZERO
        yield [
            case.reference,
            case.structure.code,
            case.debtor.get_civility_display() if case.debtor.civility else "",
            case.debtor.last_name,
            case.debtor.first_name,
            case.received_on,
            case.claimed_amount,
            recovered,
            case.claimed_amount - recovered,
            case.get_status_display(),
            verb_label(case.last_verb) if case.last_verb else "",
            case.last_at,
        ]


def claims_report_xlsx(*, user, title: str, creditor_id: int | None = None) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(
        buffer,
        "État des créances",
        HEADER,
        claims_report_rows(user=user, creditor_id=creditor_id),
        money_columns=["Montant réclamé", "Montant recouvré", "Reste dû"],
        date_columns=["Reçu le"],
        title=title,
    )
    return buffer.getvalue()
