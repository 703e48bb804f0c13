"""The audit verbs of cases, debtors, contact points, comments, tasks and events, as the case timeline
shows them; registered by `CasesConfig.ready()`."""

from amiable.audit.models import AuditEvent
from amiable.audit.timeline import iso_date_fr, register_verb
from amiable.cases.models import CaseStatus, EventKind


def lower_first(text: str) -> str:
    """A choice's label inside a sentence: « Décès du débiteur » → « décès du débiteur »."""
    return text[:1].lower() + text[1:]


def _status_changed(event: AuditEvent) -> str:
    before, after = event.before or {}, event.after or {}
    old = CaseStatus(before["status"]).label if before.get("status") in CaseStatus.values else "?"
    new = CaseStatus(after["status"]).label if after.get("status") in CaseStatus.values else "?"
    reason = f" — {after['reason']}" if after.get("reason") else ""
    return f"{old} → {new}{reason}"


def _case_created(event: AuditEvent) -> str:
    after = event.after or {}
    if not after.get("batch"):
        return ""
    return f"lot {after['batch']}, ligne {after.get('line')} — accusé de réception {after.get('acknowledgement')}"


def _comment(event: AuditEvent) -> str:
    return ((event.after or {}).get("body") or "")[:200]


def describe_event(event: AuditEvent) -> str:
    """An event of the case (death, dispute…) and its date; shared by the apps that record events."""
    after = event.after or {}
    kind = after.get("kind", "")
    label = lower_first(EventKind(kind).label) if kind in EventKind.values else kind
    return f"{label} le {iso_date_fr(after.get('occurred_on', ''))}"


def _tasks_cancelled(event: AuditEvent) -> str:
    after = event.after or {}
    count = len(after.get("tasks") or [])
    text = f"{count} tâche{'s' if count > 1 else ''}"
    return f"{text} — {after['reason']}" if after.get("reason") else text


def _do_not_contact(event: AuditEvent) -> str:
    return "enregistrée" if (event.after or {}).get("do_not_contact") else "levée"


def register() -> None:
    register_verb("case.created", label="Dossier reçu", describe=_case_created)
    register_verb("case.status_changed", label="Changement de statut", describe=_status_changed)
    register_verb("case.acknowledged", label="Accusé de réception émis")
    register_verb(
        "case.assigned",
        label="Dossier confié",
        describe=lambda event: (
            ((event.after or {}).get("agent") or "Aucun gestionnaire")
            + (" (attribution automatique)" if (event.after or {}).get("automatic") else "")
        ),
        internal=True,
    )
    register_verb("case_counters.rebuilt", label="Compteurs de dossiers recomptés", internal=True)
    register_verb("task_agents.repaired", label="Gestionnaires des tâches corrigés", internal=True)
    register_verb("debtor.created", label="Débiteur enregistré")
    register_verb(
        "contact_point.added",
        label="Coordonnée ajoutée",
        describe=lambda event: (
            f"{(event.after or {}).get('display', '')} (source : {(event.after or {}).get('source', '')})"
        ),
    )
    register_verb(
        "contact_point.quality_changed",
        label="Qualité d'une coordonnée modifiée",
        describe=lambda event: f"{(event.before or {}).get('quality', '')} → {(event.after or {}).get('quality', '')}",
    )
    register_verb("comment.added", label="Message", describe=_comment)
    register_verb("comment.internal_added", label="Note interne", describe=_comment, internal=True)
    # Tasks are how the agency organises its own work: the creditor sees what was done, not the to-do list.
    register_verb("task.opened", label="Tâche ouverte", internal=True)
    register_verb("task.done", label="Tâche terminée", internal=True)
    register_verb("tasks.cancelled", label="Tâches annulées", describe=_tasks_cancelled, internal=True)
    register_verb("case.event_recorded", label="Événement", describe=describe_event)
    register_verb("debtor.do_not_contact_set", label="Opposition aux contacts", describe=_do_not_contact, internal=True)
