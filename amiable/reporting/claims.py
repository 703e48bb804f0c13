"""The claims report (état des créances, C40): every case of a creditor the user may see, as XLSX."""

import io

from django.db.models import CharField, Count, DateTimeField, DecimalField, ExpressionWrapper, F, OuterRef, Subquery

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import internal_verbs, verb_label
from amiable.cases.models import Case
from amiable.cases.selectors import money_figures
from amiable.core.money import to_money
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
MONEY_COLUMNS = ["Montant réclamé", "Montant recouvré", "Reste dû"]
MONEY = DecimalField(max_digits=12, decimal_places=2)


def _cases(*, user, creditor_id: int | None):
    qs = Case.objects.visible_to(user)
    return qs.filter(creditor_id=creditor_id) if creditor_id else qs


def claims_report_rows(*, user, creditor_id: int | None = None):
    """One row per case, streamed: the amount claimed, what was recovered of it (net payments less any excess
    owed back to the debtor) and what remains due, all read by the one query."""
    last = AuditEvent.objects.filter(case_pk=OuterRef("pk"))
    if not user.is_agency:
        last = last.exclude(verb__in=internal_verbs())
    last = last.order_by("-at", "-pk")
    qs = (
        _cases(user=user, creditor_id=creditor_id)
        .select_related("structure", "debtor")
        .annotate(
            last_verb=Subquery(last.values("verb")[:1], output_field=CharField()),
            last_at=Subquery(last.values("at")[:1], output_field=DateTimeField()),
            recovered=ExpressionWrapper(F("paid_amount") - F("overpaid_amount"), output_field=MONEY),
        )
        .order_by("structure__code", "reference", "pk")
    )
    for case in qs.iterator(chunk_size=2000):
        yield [
            case.reference,
            case.structure.code,
            case.debtor.get_civility_display() if case.debtor.civility else "",
            case.debtor.last_name,
            case.debtor.first_name,
            case.received_on,
            case.claimed_amount,
            to_money(case.recovered),
            case.balance,
            case.get_status_display(),
            verb_label(case.last_verb) if case.last_verb else "",
            case.last_at,
        ]


def claims_report_totals(*, user, creditor_id: int | None = None) -> list | None:
    """The totals row of the report (one aggregate query), or None when the report holds no case."""
    figures = money_figures(_cases(user=user, creditor_id=creditor_id), count=Count("pk"))
    if not figures["count"]:
        return None
    label = f"Total ({figures['count']} dossier{'s' if figures['count'] > 1 else ''})"
    row: list = [None] * len(HEADER)
    row[0] = label
    row[HEADER.index("Montant réclamé")] = figures["claimed"]
    row[HEADER.index("Montant recouvré")] = figures["recovered"]
    row[HEADER.index("Reste dû")] = figures["balance"]
    return row


def claims_report_xlsx(*, user, title: str, creditor_id: int | None = None) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(
        buffer,
        "État des créances",
        HEADER,
        claims_report_rows(user=user, creditor_id=creditor_id),
        money_columns=MONEY_COLUMNS,
        date_columns=["Reçu le"],
        title=title,
        totals=claims_report_totals(user=user, creditor_id=creditor_id),
    )
    return buffer.getvalue()
