"""The follow-up meetings (C14): planned from the contract's start, reminded to both sides a week before with
their pack built then, and their minutes stored. `check_meetings` runs `meetings_check` every day: it may
run twice, or stop half-way and run again, without planning, reminding or building anything twice."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from amiable.accounts.models import Role, User
from amiable.audit.services import audit_record
from amiable.core.dates import add_months, format_date
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import ContractTerms
from amiable.creditors.selectors import terms_for
from amiable.notifications.selectors import creditor_staff
from amiable.notifications.services import notify
from amiable.reporting.meetings import (
    PLAN_AHEAD_MONTHS,
    REMINDER_DAYS,
    can_keep_minutes,
    meeting_schedule,
    pack_figures,
    pack_pdf,
    pack_xlsx,
    quarterly_before,
)
from amiable.reporting.models import FollowUpMeeting
from amiable.reporting.services_rollup import stats_refresh

MAX_MINUTES_FILE = 20 * 1024 * 1024
MINUTES_TYPES = frozenset({".pdf", ".docx", ".odt", ".txt"})
NOT_A_WRITER = "Seuls les superviseurs et administrateurs de l'agence rédigent les réunions de suivi."


def _store(field_file, name: str, content: bytes) -> str:
    """Store the bytes under their name (a file left there by a rolled-back attempt is replaced); returns the
    sha256."""
    storage = field_file.storage
    full = f"meetings/{name}"
    if storage.exists(full):
        storage.delete(full)
    field_file.save(name, ContentFile(content), save=False)
    return hashlib.sha256(content).hexdigest()


@transaction.atomic
def meetings_plan(*, today: date, actor=None) -> list[FollowUpMeeting]:
    """Plan each active creditor's meetings due from its contract's start to six months ahead (never after
    the contract's end); returns those created (one row per creditor and date: a second run creates none)."""
    created = []
    terms = (
        ContractTerms.objects.filter(contract_start__isnull=False, creditor__is_active=True)
        .select_related("creditor")
        .order_by("creditor_id")
    )
    for term in terms:
        until = add_months(today, PLAN_AHEAD_MONTHS)
        if term.contract_end is not None:
            until = min(until, term.contract_end)
        for due_on, label in meeting_schedule(start=term.contract_start, until=until):
            meeting, new = FollowUpMeeting.objects.get_or_create(
                creditor=term.creditor, due_on=due_on, defaults={"label": label}
            )
            if new:
                audit_record(
                    actor=actor,
                    verb="meeting.planned",
                    target=meeting,
                    creditor_pk=term.creditor_id,
                    after={"label": label, "due_on": due_on},
                )
                created.append(meeting)
    return created


@transaction.atomic
def meeting_pack_build(*, meeting: FollowUpMeeting, actor, today: date | None = None) -> FollowUpMeeting:
    """Build and store the meeting's pack once: the creditor's figures are refreshed, then the PDF/A with its
    charts, and the XLSX of the same figures unless a quarterly workbook ended before the meeting (the pack
    then points to it). Supervisors, agency admins or the system."""
    if actor is not None and not can_keep_minutes(actor):
        raise ApplicationError("Seuls les superviseurs et administrateurs de l'agence produisent le dossier de séance.")
    meeting = FollowUpMeeting.objects.select_for_update(of=("self",)).select_related("creditor").get(pk=meeting.pk)
    if meeting.pack_pdf:
        raise ApplicationError(
            f"Le dossier de séance de la {meeting.label.lower()} est déjà produit "
            f"(le {format_date(timezone.localdate(meeting.pack_built_at))})."
        )
    start = terms_for(meeting.creditor).contract_start
    if start is None:
        raise ApplicationError("La date de début du contrat n'est pas renseignée : pas de chiffres depuis le début.")
    now = timezone.now()
    today = today or timezone.localdate(now)
    stats_refresh(creditor=meeting.creditor, today=today, actor=actor)
    figures = pack_figures(creditor=meeting.creditor, since=start, until=today)
    report = quarterly_before([meeting]).get(meeting.pk)
    label = (
        f"statistiques trimestrielles {report.quarter}"
        if report
        else "classeur de séance (les mêmes chiffres que ce document)"
    )
    base = f"{meeting.creditor.slug}/{meeting.due_on:%Y-%m-%d}"
    stored = []
    try:
        meeting.pack_pdf_sha256 = _store(
            meeting.pack_pdf,
            f"{base}-dossier-de-seance.pdf",
            pack_pdf(meeting=meeting, figures=figures, workbook_label=label),
        )
        stored.append(meeting.pack_pdf)
        if report is None:
            meeting.pack_xlsx_sha256 = _store(
                meeting.pack_xlsx, f"{base}-classeur.xlsx", pack_xlsx(meeting=meeting, figures=figures)
            )
            stored.append(meeting.pack_xlsx)
        meeting.pack_built_at = now
        meeting.save(update_fields=["pack_pdf", "pack_pdf_sha256", "pack_xlsx", "pack_xlsx_sha256", "pack_built_at"])
        audit_record(
            actor=actor,
            verb="meeting.pack_built",
            target=meeting,
            creditor_pk=meeting.creditor_id,
            after={
                "label": meeting.label,
                "due_on": meeting.due_on,
                "pdf_sha256": meeting.pack_pdf_sha256,
                "xlsx_sha256": meeting.pack_xlsx_sha256,
                "quarterly_report": report.quarter if report else None,
                "cases": figures.cases,
                "claimed": figures.claimed,
                "recovered": figures.recovered,
            },
        )
    except BaseException:
        for field_file in stored:  # the row rolls back with the transaction: its files must not outlive it
            field_file.delete(save=False)
        raise
    return meeting


def _agency_side(meeting: FollowUpMeeting) -> list[User]:
    supervisors = list(User.objects.filter(role=Role.SUPERVISOR, is_active=True).order_by("pk"))
    referent = meeting.creditor.referent
    return supervisors + ([referent] if referent is not None and referent.is_agency else [])


def _creditor_side(meeting: FollowUpMeeting) -> list[User]:
    """The creditor's staff who see the meetings: those not limited to some structures."""
    return [u for u in creditor_staff(creditor_id=meeting.creditor_id) if not u.structures.all()]


@transaction.atomic
def meeting_remind(*, meeting: FollowUpMeeting, actor=None, today: date | None = None) -> FollowUpMeeting:
    """Build the pack if needed, tell both sides (the agency's supervisors and the creditor's référent, the
    creditor's staff) once, and mark the meeting reminded."""
    meeting = (
        FollowUpMeeting.objects.select_for_update(of=("self",)).select_related("creditor__referent").get(pk=meeting.pk)
    )
    if meeting.reminded_at is not None:
        return meeting
    if not meeting.pack_pdf:
        meeting = meeting_pack_build(meeting=meeting, actor=actor, today=today)
    title = f"{meeting.label} avec {meeting.creditor.name} le {format_date(meeting.due_on)}"
    body = (
        f"La réunion de suivi du contrat ({meeting.label.lower()}) est prévue le {format_date(meeting.due_on)}. "
        "Son dossier de séance (chiffres depuis le début du contrat, graphiques et classeur) est disponible."
    )
    agency = notify(
        recipients=_agency_side(meeting),
        kind="meeting_reminder",
        title=title,
        body=body,
        url=reverse("meetings:detail", kwargs={"pk": meeting.pk}),
    )
    creditor = notify(
        recipients=_creditor_side(meeting),
        kind="meeting_reminder",
        title=f"{meeting.label} avec l'agence le {format_date(meeting.due_on)}",
        body=body,
        url=reverse("portal_meeting", kwargs={"pk": meeting.pk}),
    )
    meeting.reminded_at = timezone.now()
    meeting.save(update_fields=["reminded_at"])
    audit_record(
        actor=actor,
        verb="meeting.reminded",
        target=meeting,
        creditor_pk=meeting.creditor_id,
        after={"label": meeting.label, "due_on": meeting.due_on, "notified": len(agency) + len(creditor)},
    )
    return meeting


@dataclass
class MeetingsRun:
    today: date
    planned: list[FollowUpMeeting] = field(default_factory=list)
    reminded: list[FollowUpMeeting] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def meetings_check(*, today: date | None = None, actor=None) -> MeetingsRun:
    """The daily run: plan, then remind each meeting due within REMINDER_DAYS days and not yet reminded (one
    transaction each: a meeting whose pack fails is retried the next day, the others go on)."""
    run = MeetingsRun(today=today or timezone.localdate())
    run.planned = meetings_plan(today=run.today, actor=actor)
    due = FollowUpMeeting.objects.filter(
        reminded_at__isnull=True,
        due_on__gte=run.today,
        due_on__lte=run.today + timedelta(days=REMINDER_DAYS),
        creditor__is_active=True,
    ).order_by("due_on", "pk")
    for meeting in due:
        try:
            run.reminded.append(meeting_remind(meeting=meeting, actor=actor, today=run.today))
        except ApplicationError as exc:
            run.failures.append(f"{meeting.creditor.slug} {meeting.due_on:%d/%m/%Y} : {exc.message}")
    return run


@transaction.atomic
def meeting_minutes_save(
    *, meeting: FollowUpMeeting, held_on: date, minutes: str, actor, upload=None
) -> FollowUpMeeting:
    """Store the minutes of a held meeting: the text, and optionally a file (PDF, Word, OpenDocument or
    text) kept with its sha256. Saving again corrects them; a new file takes the place of the last, which
    stays stored (the audit trail keeps both hashes)."""
    if not can_keep_minutes(actor):
        raise ApplicationError(NOT_A_WRITER)
    meeting = FollowUpMeeting.objects.select_for_update().get(pk=meeting.pk)
    minutes = minutes.strip()
    if held_on > timezone.localdate():
        raise ApplicationError(f"La réunion ne peut pas être tenue dans le futur ({format_date(held_on)}).")
    if not minutes and upload is None and not meeting.minutes_file:
        raise ApplicationError("Écrivez le compte rendu ou joignez-en le fichier.")
    before = {"held_on": meeting.held_on, "minutes": meeting.minutes, "file_sha256": meeting.minutes_file_sha256}
    if upload is not None:
        suffix = "." + upload.name.rsplit(".", 1)[-1].lower() if "." in upload.name else ""
        if suffix not in MINUTES_TYPES:
            raise ApplicationError("Le compte rendu se joint en PDF, Word (.docx), OpenDocument (.odt) ou texte.")
        if upload.size > MAX_MINUTES_FILE:
            raise ApplicationError("Le fichier du compte rendu dépasse 20 Mo.")
        content = upload.read()
        name = f"{meeting.creditor.slug}/{meeting.due_on:%Y-%m-%d}-compte-rendu-{timezone.now():%Y%m%d%H%M%S}{suffix}"
        meeting.minutes_file_sha256 = _store(meeting.minutes_file, name, content)
    meeting.held_on = held_on
    meeting.minutes = minutes
    meeting.minutes_by = actor
    meeting.minutes_at = timezone.now()
    meeting.save(
        update_fields=["held_on", "minutes", "minutes_file", "minutes_file_sha256", "minutes_by", "minutes_at"]
    )
    audit_record(
        actor=actor,
        verb="meeting.minutes_saved",
        target=meeting,
        creditor_pk=meeting.creditor_id,
        before=before,
        after={"held_on": held_on, "minutes": minutes, "file_sha256": meeting.minutes_file_sha256},
    )
    return meeting
