"""Reads on cases, always through `visible_to` so that no page can leak another creditor's rows."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from amiable.audit.models import AuditEvent
from amiable.cases.models import Case, CaseStatus, ContactPoint, Task, TaskStatus
from amiable.core.money import ZERO, format_money, to_money

CASE_SORTS = {
    "recu": ("-received_on", "-pk"),
    "recu_asc": ("received_on", "pk"),
    "reference": ("reference", "pk"),
    "montant": ("-claimed_amount", "-pk"),
    "debiteur": ("debtor__last_name", "debtor__first_name", "pk"),
}


def case_list(
    *,
    user,
    search: str = "",
    creditor_id: int | None = None,
    structure_id: int | None = None,
    status: str = "",
    agent_id: int | None = None,
    sort: str = "recu",
) -> QuerySet[Case]:
    """Cases the user may see, filtered; search matches the reference (prefix) or the debtor's names."""
    qs = Case.objects.visible_to(user).select_related("creditor", "structure", "debtor", "assigned_agent")
    search = " ".join(search.split())
    if search:
        condition = Q(reference__istartswith=search)
        words = search.split()
        name_condition = Q()
        for word in words:
            name_condition &= Q(debtor__last_name__icontains=word) | Q(debtor__first_name__icontains=word)
        qs = qs.filter(condition | name_condition)
    if creditor_id:
        qs = qs.filter(creditor_id=creditor_id)
    if structure_id:
        qs = qs.filter(structure_id=structure_id)
    if status:
        qs = qs.filter(status=status)
    if agent_id:
        qs = qs.filter(assigned_agent_id=agent_id)
    return qs.order_by(*CASE_SORTS.get(sort, CASE_SORTS["recu"]))


def case_get(*, user, pk: int) -> Case:
    """One case the user may see, or Case.DoesNotExist (the view turns it into a 404)."""
    return Case.objects.visible_to(user).select_related("creditor", "structure", "debtor", "assigned_agent").get(pk=pk)


def case_open_tasks(*, case: Case) -> QuerySet[Task]:
    return Task.objects.filter(case=case, status=TaskStatus.OPEN).order_by("due_on", "pk")


def case_contact_points(*, case: Case) -> QuerySet[ContactPoint]:
    return ContactPoint.objects.filter(debtor_id=case.debtor_id).order_by("kind", "-is_primary", "-created_at", "pk")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    verb: str
    label: str
    details: str


VERB_LABELS = {
    "case.created": "Dossier reçu",
    "case.status_changed": "Changement de statut",
    "case.acknowledged": "Accusé de réception émis",
    "case.assigned": "Dossier confié",
    "contact_point.added": "Coordonnée ajoutée",
    "contact_point.quality_changed": "Qualité d'une coordonnée modifiée",
    "case.recalled": "Dossier retiré par le créancier",
    "comment.added": "Message",
    "comment.internal_added": "Note interne",
    "request.created": "Demande du créancier",
    "request.answered": "Réponse de l'agence à une demande",
    "approval.requested": "Décision demandée au créancier",
    "approval.decided": "Décision du créancier",
    "approval.cancelled": "Demande de décision annulée",
    "letter.issued": "Courrier envoyé",
    "email.queued": "E-mail de relance décidé",
    "sms.queued": "SMS de relance décidé",
    "email.sent": "E-mail envoyé",
    "sms.sent": "SMS envoyé",
    "email.failed": "Échec de l'envoi d'un e-mail",
    "sms.failed": "Échec de l'envoi d'un SMS",
    "email.retried": "E-mail renvoyé",
    "sms.retried": "SMS renvoyé",
    "email.cancelled": "E-mail abandonné",
    "sms.cancelled": "SMS abandonné",
    "call.recorded": "Appel",
    "promise.broken": "Promesse de paiement non tenue",
    "investigation.done": "Recherche d'adresse",
    "case.event_recorded": "Événement",
    "returned_mail.recorded": "Courrier revenu (NPAI)",
    "promise.recorded": "Promesse de paiement",
    "case.internal_event_recorded": "Événement (interne)",
    "task.opened": "Tâche ouverte",
    "scenario.step_run": "Étape du scénario exécutée",
    "scenario.step_skipped": "Étape du scénario sautée",
}

EVENT_KIND_LABELS = {
    "oi_referral": "saisine de la commission de surendettement",
    "oi_admissible": "dossier de surendettement déclaré recevable",
    "death": "décès du débiteur",
    "dispute": "contestation de la créance",
    "insolvency": "insolvabilité",
    "vulnerability": "situation de vulnérabilité",
    "returned_mail": "courrier revenu (NPAI)",
}


def _describe(event: AuditEvent) -> str:
    after = event.after or {}
    before = event.before or {}
    if event.verb == "case.status_changed":
        old = CaseStatus(before["status"]).label if before.get("status") in CaseStatus.values else "?"
        new = CaseStatus(after["status"]).label if after.get("status") in CaseStatus.values else "?"
        reason = f" — {after['reason']}" if after.get("reason") else ""
        return f"{old} → {new}{reason}"
    if event.verb == "case.created" and after.get("batch"):
        return f"lot {after['batch']}, ligne {after.get('line')} — accusé de réception {after.get('acknowledgement')}"
    if event.verb in {"comment.added", "comment.internal_added"}:
        return (after.get("body") or "")[:200]
    if event.verb == "approval.decided":
        return {"accepted": "acceptée", "refused": "refusée"}.get(after.get("status"), "") + (
            f" — {after['comment']}" if after.get("comment") else ""
        )
    if event.verb == "letter.issued":
        kind = "première lettre" if after.get("kind") == "first" else "relance"
        return f"{kind} {after.get('number', '')}"
    if event.verb in {"email.queued", "sms.queued", "email.sent", "sms.sent"}:
        return f"à {after.get('to', '')}, rappel de la lettre {after.get('first_letter', '')}"
    if event.verb in {"email.failed", "sms.failed", "email.retried", "sms.retried"}:
        return f"à {after.get('to', '')} — {after.get('error', '')} ({after.get('attempts', 0)} tentative(s))"
    if event.verb in {"email.cancelled", "sms.cancelled"}:
        return f"à {after.get('to', '')} — {after.get('reason', '')}"
    if event.verb == "call.recorded":
        return {
            "reached": "débiteur joint",
            "no_answer": "pas de réponse",
            "wrong_number": "faux numéro",
            "message_left": "message laissé",
            "refused": "refus de payer",
            "dispute": "contestation",
        }.get(after.get("outcome", ""), after.get("outcome", ""))
    if event.verb in {"case.event_recorded", "case.internal_event_recorded"}:
        when = after.get("occurred_on", "")
        when = f"{when[8:10]}/{when[5:7]}/{when[0:4]}" if len(str(when)) == 10 else when
        return f"{EVENT_KIND_LABELS.get(after.get('kind'), after.get('kind', ''))} le {when}"
    if event.verb == "investigation.done":
        return f"sources : {after.get('sources', '')} — {after.get('result', '')}"
    if event.verb in {"promise.recorded", "promise.broken"}:
        due = str(after.get("due_on", ""))
        due = f"{due[8:10]}/{due[5:7]}/{due[0:4]}" if len(due) == 10 else due
        return f"{format_money(to_money(str(after.get('amount', '0'))))} pour le {due}"
    if event.verb in {"scenario.step_run", "scenario.step_skipped"}:
        return f"{after.get('step', '')}" + (f" ({after['reason']})" if after.get("reason") else "")
    if event.verb == "case.recalled":
        return after.get("reason", "")
    if event.verb == "case.assigned":
        return after.get("agent") or "Aucun gestionnaire"
    if event.verb == "contact_point.added":
        return f"{after.get('display', '')} (source : {after.get('source', '')})"
    if event.verb == "contact_point.quality_changed":
        return f"{before.get('quality', '')} → {after.get('quality', '')}"
    return ""


# Events about the agency's own organisation, not shown to creditor staff.
INTERNAL_VERBS = frozenset(
    {
        "case.assigned",
        "comment.internal_added",
        "scenario.step_run",
        "scenario.step_skipped",
        "debtor.do_not_contact_set",
        "case.internal_event_recorded",
        "task.opened",
        # The delivery's own course: the creditor sees the message once it has gone (« E-mail envoyé »).
        "email.queued",
        "sms.queued",
        "email.failed",
        "sms.failed",
        "email.retried",
        "sms.retried",
        "email.cancelled",
        "sms.cancelled",
    }
)


def case_timeline(*, case: Case, include_internal: bool) -> list[TimelineEntry]:
    """What happened on a case, oldest first, from the audit trail."""
    events = AuditEvent.objects.for_case(case.pk)
    if not include_internal:
        events = events.exclude(verb__in=INTERNAL_VERBS)
    entries = []
    for event in events:
        entries.append(
            TimelineEntry(
                at=event.at,
                actor=event.actor_label,
                verb=event.verb,
                label=VERB_LABELS.get(event.verb, event.verb),
                details=_describe(event),
            )
        )
    return entries


def case_totals(*, user) -> dict:
    """Counts and claimed amounts per status for the cases the user may see (home dashboards)."""
    rows = (
        Case.objects.visible_to(user)
        .values("status")
        .annotate(count=Count("pk"), amount=Sum("claimed_amount"))
        .order_by("status")
    )
    by_status = {row["status"]: row for row in rows}
    result = []
    for status in CaseStatus:
        row = by_status.get(status.value, {})
        result.append(
            {
                "status": status.value,
                "label": status.label,
                "count": row.get("count", 0),
                # SQLite sums decimals in floating point: bring the total back to cents.
                "amount": to_money(row.get("amount") or ZERO),
            }
        )
    total_amount: Decimal = sum((r["amount"] for r in result), ZERO)
    return {"rows": result, "count": sum(r["count"] for r in result), "amount": total_amount}
