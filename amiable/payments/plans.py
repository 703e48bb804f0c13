"""Payment plans (plans d'apurement, C16, C37) and the debtor's other proposals (C19).

An agent proposes instalments that sum exactly to the case's balance: nothing is ever added to it (L3). Up to
the contract's limit (`ContractTerms.max_plan_months`) the agency grants the plan at once; beyond it the plan
waits for the creditor's acceptance, asked as an approval request whose decision comes back through
`approvals.hooks`. A granted plan puts the case « Plan d'apurement », has its document (PDF/A) stored, sent
to the debtor and shown to the creditor's staff (C37). Payments fill its instalments in date order;
`check_plans` marks the instalments still unpaid after the grace period, reminds the debtor once per
instalment, and breaks the plan after the contract's number of misses. The rules are explained in French
in docs/money.md (« Plans d'apurement »)."""

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from amiable.accounts.permissions import can_work_cases, require
from amiable.approvals.models import ApprovalKind, ApprovalRequest, ApprovalStatus
from amiable.approvals.services import approval_request
from amiable.audit.services import audit_record
from amiable.cases.models import Case, CaseStatus, Channel, ContactKind, ContactPoint, ContactQuality, TaskKind
from amiable.cases.policy import case_contact_block
from amiable.cases.selectors import case_stopping_event
from amiable.cases.services import case_lock, case_transition, task_open
from amiable.compliance.legal import debtor_text_problems
from amiable.compliance.wording import claim_basis, salutation
from amiable.contact.messaging import LASTING_BLOCKS, debtor_email, document_email_queue, notice_send
from amiable.contact.models import MessageKind
from amiable.core.dates import add_months, format_date
from amiable.core.exceptions import ApplicationError
from amiable.core.money import ZERO, format_money, split_evenly, to_money
from amiable.core.sequences import sequence_next
from amiable.creditors.selectors import agency_get, terms_for
from amiable.letters.address import address_block, mailing_address
from amiable.letters.models import Letter, LetterKind
from amiable.letters.printables import PrintItem
from amiable.letters.services import letter_pdf, letter_signatory, letter_text
from amiable.notifications.selectors import agency_contacts, creditor_staff
from amiable.notifications.services import notify
from amiable.payments.models import (
    Instalment,
    InstalmentStatus,
    Payment,
    Plan,
    PlanRhythm,
    PlanStatus,
)
from amiable.payments.printing import print_items

# More would not be a plan any more but a standing order; 120 weekly instalments is already over two years.
MAX_INSTALMENTS = 120
RUNNING = (PlanStatus.AWAITING_APPROVAL, PlanStatus.ACTIVE)
# A plan is proposed to a case being recovered (or on a plan that ended without closing it).
PROPOSABLE = frozenset({CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.PAYMENT_PLAN})
AGENCY_ONLY = "Seule l'agence propose un plan d'apurement au débiteur."


# --- the schedule ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A checked schedule, before anything is written: what the preview shows and what `plan_propose` stores."""

    lines: list[tuple[date, Decimal]]
    rhythm: str
    total: Decimal
    months: int
    max_months: int

    @property
    def within_limit(self) -> bool:
        return self.months <= self.max_months

    @property
    def first_due_on(self) -> date:
        return self.lines[0][0]

    @property
    def last_due_on(self) -> date:
        return self.lines[-1][0]

    @property
    def rhythm_label(self) -> str:
        return PlanRhythm(self.rhythm).label


def plan_duration_months(start: date, last: date) -> int:
    """The plan's length in months, as the contract's limit counts it: from the day it is agreed (`start`) to
    its last due date, a month begun counting as a whole month (10/03 → 10/09 is 6 months, 10/03 → 11/09 is 7;
    a single instalment due within a month is 1 month, one due today 0)."""
    months = 0
    while add_months(start, months) < last:
        months += 1
    return months


def _regular_dates(first: date, count: int, rhythm: str) -> list[date]:
    """Every month on the first date's day (clamped to the month's end: 31/01, 28/02, 31/03), every two weeks
    or every week."""
    if rhythm == PlanRhythm.MONTHLY:
        return [add_months(first, k) for k in range(count)]
    step = 14 if rhythm == PlanRhythm.FORTNIGHTLY else 7
    return [first + timedelta(days=step * k) for k in range(count)]


def _sum_message(total: Decimal, balance: Decimal) -> str:
    gap = total - balance
    if gap < ZERO:
        return (
            f"Les échéances totalisent {format_money(total)} pour un reste dû de {format_money(balance)} : "
            f"il manque {format_money(-gap)}. Le total d'un plan est exactement le reste dû."
        )
    return (
        f"Les échéances totalisent {format_money(total)} pour un reste dû de {format_money(balance)} : "
        f"{format_money(gap)} de trop. Rien ne peut s'ajouter au reste dû (article L111-8 du code des procédures "
        "civiles d'exécution)."
    )


def plan_schedule(
    *,
    case: Case,
    rhythm: str,
    instalments: list[tuple[date, Decimal | str]] | None = None,
    count: int | None = None,
    first_due_on: date | None = None,
    today: date | None = None,
) -> Schedule:
    """Check a proposed schedule against the case's balance and compute its length; nothing is written. Either
    `instalments` (custom dates and amounts, which must sum exactly to the balance) or `count` equal
    instalments from `first_due_on` at the `rhythm` (the last one takes the leftover cents: 100,00 € in 3 is
    33,33 + 33,33 + 33,34)."""
    today = today or timezone.localdate()
    if rhythm not in PlanRhythm.values:
        raise ApplicationError(
            f"Rythme d'échéances inconnu : « {rhythm} » (mensuel, toutes les deux semaines ou hebdomadaire)."
        )
    balance = case.balance
    if balance <= ZERO:
        raise ApplicationError(f"Le dossier {case.reference} ne présente aucun reste dû : pas de plan d'apurement.")
    if instalments:
        if len(instalments) > MAX_INSTALMENTS:
            raise ApplicationError(f"{len(instalments)} échéances : un plan en compte au plus {MAX_INSTALMENTS}.")
        lines = []
        for rank, (due_on, amount) in enumerate(instalments, start=1):
            try:
                money = to_money(amount)
            except (TypeError, ValueError) as exc:
                raise ApplicationError(f"Échéance {rank} : montant illisible « {amount} ».") from exc
            if money <= ZERO:
                raise ApplicationError(f"Échéance {rank} : le montant doit être d'au moins 0,01 €.")
            if lines and due_on <= lines[-1][0]:
                raise ApplicationError(
                    f"Échéance {rank} : sa date ({format_date(due_on)}) doit suivre celle de l'échéance {rank - 1} "
                    f"({format_date(lines[-1][0])})."
                )
            lines.append((due_on, money))
        total = sum((amount for _d, amount in lines), ZERO)
        if total != balance:
            raise ApplicationError(_sum_message(total, balance))
    else:
        if count is None or first_due_on is None:
            raise ApplicationError(
                "Indiquez le nombre d'échéances et la date de la première, ou un échéancier détaillé."
            )
        if count < 1 or count > MAX_INSTALMENTS:
            raise ApplicationError(
                f"Le nombre d'échéances doit être compris entre 1 et {MAX_INSTALMENTS} (reçu : {count})."
            )
        amounts = split_evenly(balance, count)
        if amounts[0] <= ZERO:
            raise ApplicationError(
                f"{count} échéances pour un reste dû de {format_money(balance)} : chacune doit être d'au moins 0,01 €."
            )
        lines = list(zip(_regular_dates(first_due_on, count, rhythm), amounts, strict=True))
    if lines[0][0] < today:
        raise ApplicationError(f"La première échéance ({format_date(lines[0][0])}) est passée.")
    return Schedule(
        lines=lines,
        rhythm=rhythm,
        total=balance,
        months=plan_duration_months(today, lines[-1][0]),
        max_months=terms_for(case.creditor_id).max_plan_months,
    )


# --- reads ------------------------------------------------------------------------------------------------------


def plan_running(case: Case) -> Plan | None:
    """The active plan of a case, if any."""
    return Plan.objects.filter(case=case, status=PlanStatus.ACTIVE).first()


def plan_for_reversal(case: Case) -> Plan | None:
    """The plan a reversal takes money back from: the active one, or else the plan the reversed payment had
    completed (a cheque bounced after the last instalment): it runs again."""
    return plan_running(case) or (
        Plan.objects.filter(case=case, status=PlanStatus.COMPLETED).order_by("-ended_at", "-pk").first()
    )


def plan_get(*, user, pk: int) -> Plan:
    """One plan of a case the user may see (agency staff, the case's creditor staff within their structures),
    or Plan.DoesNotExist (a 404 for the views)."""
    return Plan.objects.visible_to(user).select_related("case").get(pk=pk)


# --- proposing and granting -----------------------------------------------------------------------------------


def _instalments_text(instalments: list[Instalment]) -> str:
    return " ; ".join(f"{i.rank}. {format_date(i.due_on)} : {format_money(i.amount)}" for i in instalments)


@transaction.atomic
def plan_propose(
    *,
    case: Case,
    rhythm: str,
    actor,
    instalments: list[tuple[date, Decimal | str]] | None = None,
    count: int | None = None,
    first_due_on: date | None = None,
) -> Plan:
    """Propose a plan for the case's balance. Within the contract's limit the agency grants it at once (the case
    becomes « Plan d'apurement », the document goes to the debtor and the creditor is told); beyond it, the
    creditor's approvers are asked and the plan waits for their decision (C16). Refused: a case not being
    recovered, a stopping event, no first letter yet (R124-4: the first contact is the letter), a plan already
    running, a schedule that does not sum exactly to the balance."""
    require(can_work_cases(actor), AGENCY_ONLY)
    case = case_lock(case)
    if case.status not in PROPOSABLE:
        raise ApplicationError(
            f"Le dossier {case.reference} est « {case.get_status_display().lower()} » : pas de plan d'apurement."
        )
    stopped = case_stopping_event(case=case)
    if stopped is not None:
        raise ApplicationError(
            f"Plan impossible : événement bloquant sur le dossier ({stopped.get_kind_display().lower()})."
        )
    running = Plan.objects.filter(case=case, status__in=RUNNING).first()
    if running is not None:
        raise ApplicationError(
            f"Le plan {running.number} est déjà « {running.get_status_display().lower()} » sur ce dossier."
        )
    first_letter = Letter.objects.filter(case=case, kind=LetterKind.FIRST).first()
    if first_letter is None:
        raise ApplicationError(
            "Le premier contact écrit est la lettre de l'article R124-4 : envoyez-la avant de proposer un plan."
        )
    today = timezone.localdate()
    schedule = plan_schedule(
        case=case, rhythm=rhythm, instalments=instalments, count=count, first_due_on=first_due_on, today=today
    )
    now = timezone.now()
    plan = Plan.objects.create(
        number=f"PA-{today.year}-{sequence_next(name='plan', year=today.year):06d}",
        case=case,
        status=PlanStatus.AWAITING_APPROVAL,
        total=schedule.total,
        rhythm=rhythm,
        months=schedule.months,
        proposed_by=actor,
        proposed_at=now,
    )
    rows = Instalment.objects.bulk_create(
        [
            Instalment(plan=plan, rank=rank, due_on=due_on, amount=amount)
            for rank, (due_on, amount) in enumerate(schedule.lines, start=1)
        ]
    )
    audit_record(
        actor=actor,
        verb="plan.proposed",
        target=plan,
        after={
            "number": plan.number,
            "total": plan.total,
            "instalments": len(rows),
            "rhythm": rhythm,
            "first_due_on": schedule.first_due_on,
            "last_due_on": schedule.last_due_on,
            "months": schedule.months,
            "max_months": schedule.max_months,
        },
    )
    if schedule.within_limit:
        _grant(plan, case=case, actor=actor)
        return plan
    proposal = (
        f"Plan d'apurement {plan.number} proposé au débiteur : {len(rows)} échéance(s), rythme "
        f"{schedule.rhythm_label.lower()}, du {format_date(schedule.first_due_on)} au "
        f"{format_date(schedule.last_due_on)}, soit {schedule.months} mois (au-delà des {schedule.max_months} mois "
        f"que le contrat permet à l'agence d'accorder), pour un total de {format_money(plan.total)} égal au reste "
        f"dû.\nÉchéancier : {_instalments_text(rows)}."
    )
    plan.approval = approval_request(case=case, kind=ApprovalKind.LONG_PLAN, proposal=proposal, actor=actor)
    plan.save(update_fields=["approval"])
    return plan


def _grant(plan: Plan, *, case: Case, actor, shifted_days: int = 0) -> None:
    """The plan becomes active: the case goes « Plan d'apurement », what was paid since the proposal fills the
    first instalments, the document is issued and sent to the debtor, the creditor's staff are told (C37) —
    its instalments are then no longer notified one by one (C18)."""
    today = timezone.localdate()
    instalments = list(plan.instalments.order_by("rank"))
    plan.status = PlanStatus.ACTIVE
    plan.granted_at = timezone.now()
    plan.months = plan_duration_months(today, instalments[-1].due_on)
    plan.save(update_fields=["status", "granted_at", "months"])
    if case.status != CaseStatus.PAYMENT_PLAN:
        case_transition(case=case, to=CaseStatus.PAYMENT_PLAN, actor=actor, reason=f"Plan d'apurement {plan.number}")
    _refill(plan, balance=case.balance)
    instalments = list(plan.instalments.order_by("rank"))
    plan.address_lines, address_problem = _address(case)
    _document_issue(plan, case=case, instalments=instalments, actor=actor)
    try:
        _granted_tell(
            plan,
            case=case,
            instalments=instalments,
            actor=actor,
            shifted_days=shifted_days,
            address_problem=address_problem,
        )
    except BaseException:
        # The row is rolled back with the transaction: the stored file must not outlive it.
        plan.pdf.delete(save=False)
        raise


def _granted_tell(
    plan: Plan, *, case: Case, instalments: list[Instalment], actor, shifted_days: int, address_problem: str
) -> None:
    sent = _document_send(plan, case=case, instalments=instalments, actor=actor, address_problem=address_problem)
    audit_record(
        actor=actor,
        verb="plan.granted",
        target=plan,
        after={
            "number": plan.number,
            "by": "creditor" if plan.approval_id else "agency",
            "months": plan.months,
            "first_due_on": instalments[0].due_on,
            "last_due_on": instalments[-1].due_on,
            "shifted_days": shifted_days,
            "sha256": plan.sha256,
            "sent": sent,
            "emailed_to": plan.emailed_to,
        },
    )
    notify(
        recipients=[
            u for u in creditor_staff(creditor_id=case.creditor_id, structure_id=case.structure_id) if u != actor
        ],
        kind="plan_granted",
        title=f"Plan d'apurement {plan.number} accordé sur le dossier {case.reference}",
        body=(
            f"{len(instalments)} échéance(s) du {format_date(instalments[0].due_on)} au "
            f"{format_date(instalments[-1].due_on)}, total {format_money(plan.total)}. Le document du plan est sur la "
            "fiche du dossier ; ses échéances ne vous seront plus notifiées une à une."
        ),
        url=f"/dossiers/{case.pk}/#plan",
        case_pk=case.pk,
    )


def plan_decided(*, approval: ApprovalRequest, actor) -> None:
    """The creditor's decision on a long plan, called by `approval_decide` (and by the cancellation of the
    pending requests of a recalled case) through `approvals.hooks`: accepted, the plan becomes active; refused
    or cancelled, it ends so."""
    plan = Plan.objects.select_for_update().filter(approval=approval).first()
    if plan is None or plan.status != PlanStatus.AWAITING_APPROVAL:
        return
    if approval.status == ApprovalStatus.ACCEPTED:
        _accept(plan, actor=actor)
    elif approval.status == ApprovalStatus.REFUSED:
        _end(plan, status=PlanStatus.REFUSED, verb="plan.refused", actor=actor, reason=approval.decision_comment)
    else:
        _end(plan, status=PlanStatus.CANCELLED, verb="plan.cancelled", actor=actor, reason=approval.decision_comment)


def _end(plan: Plan, *, status: str, verb: str, actor, reason: str) -> None:
    plan.status = status
    plan.ended_at = timezone.now()
    plan.save(update_fields=["status", "ended_at"])
    audit_record(actor=actor, verb=verb, target=plan, after={"number": plan.number, "reason": reason[:300]})


@transaction.atomic
def plans_cancel_for_case(*, case: Case, actor, reason: str) -> int:
    """Cancel the case's active plan when the case ends otherwise than by its payment (irrecoverable, recalled,
    returned at the end of the contract): no instalment is awaited any more, none is chased. A plan waiting for
    the creditor's acceptance ends with its request (`approvals_cancel_for_case`). Audited; returns how many."""
    plans = list(Plan.objects.select_for_update().filter(case=case, status=PlanStatus.ACTIVE).order_by("pk"))
    for plan in plans:
        _end(plan, status=PlanStatus.CANCELLED, verb="plan.cancelled", actor=actor, reason=reason)
    return len(plans)


def _accept(plan: Plan, *, actor) -> None:
    """Accepted by the creditor: granted, unless the case has meanwhile stopped being recovered or been paid.
    When the first due date passed while the creditor decided, every date moves by the same number of days so
    that the first falls on the day of the acceptance: the instalments, their amounts and their spacing stay
    those the creditor accepted."""
    case = case_lock(plan.case)
    stopped = case_stopping_event(case=case)
    if case.status not in PROPOSABLE or stopped is not None or case.balance <= ZERO:
        why = (
            f"dossier {case.get_status_display().lower()}"
            if case.status not in PROPOSABLE
            else (f"événement bloquant ({stopped.get_kind_display().lower()})" if stopped else "plus de reste dû")
        )
        _end(plan, status=PlanStatus.CANCELLED, verb="plan.cancelled", actor=actor, reason=f"Accepté, mais {why}")
        return
    today = timezone.localdate()
    instalments = list(plan.instalments.order_by("rank"))
    shift = max((today - instalments[0].due_on).days, 0)
    if shift:
        for instalment in instalments:
            instalment.due_on += timedelta(days=shift)
        Instalment.objects.bulk_update(instalments, ["due_on"])
    _grant(plan, case=case, actor=actor, shifted_days=shift)


# --- the document -----------------------------------------------------------------------------------------------


def _address(case: Case) -> tuple[list[str], str]:
    """The postal address block, or no lines and why: a plan is granted whatever the address book holds (its
    document is then e-mailed, or handed over)."""
    try:
        return address_block(debtor=case.debtor, point=mailing_address(case.debtor)), ""
    except ApplicationError as exc:
        return [], exc.message


def plan_document_render(*, plan: Plan, case: Case, instalments: list[Instalment], actor=None) -> str:
    """The plan's document as HTML, checked: no judicial wording and no fee (L3, L7), nothing of the care nor
    of the structure where it was given (L9)."""
    agency = agency_get()
    terms = terms_for(case.creditor_id)
    lines = plan.address_lines or [case.debtor.display_name]
    issued_on = timezone.localdate(plan.granted_at) if plan.granted_at else timezone.localdate()
    paid = sum((i.paid_amount for i in instalments), ZERO)
    html = render_to_string(
        "payments/plan_pdf.html",
        {
            "agency": agency,
            "creditor": case.creditor,
            "case": case,
            "plan": plan,
            "instalments": instalments,
            "address_lines": lines,
            "issued_on": issued_on,
            "first_letter": Letter.objects.filter(case=case, kind=LetterKind.FIRST).first(),
            "basis": claim_basis(case),
            "salutation": salutation(case.debtor),
            "grace_days": terms.plan_grace_days,
            "max_missed": terms.plan_max_missed,
            "already_paid": paid,
            "still_due": plan.total - paid,
            "approved": bool(plan.approval_id),
            "signatory": letter_signatory(case=case, actor=actor),
        },
    )
    text = letter_text(html)
    quoted = (case.debtor.display_name, *lines)
    problems = debtor_text_problems(text, case=case, quoted=quoted)
    if problems:
        raise ApplicationError(f"Document du plan {plan.number} refusé : " + " ; ".join(problems) + ".")
    return html


def _document_issue(plan: Plan, *, case: Case, instalments: list[Instalment], actor) -> None:
    """Render the document as PDF/A and store it once, with its hash, on the plan."""
    pdf = letter_pdf(plan_document_render(plan=plan, case=case, instalments=instalments, actor=actor))
    plan.sha256 = hashlib.sha256(pdf).hexdigest()
    plan.pdf.save(f"{timezone.localdate().year}/{plan.number}.pdf", ContentFile(pdf), save=False)
    plan.save(update_fields=["pdf", "sha256", "address_lines"])


def _debtor_points(case: Case) -> dict[str, bool]:
    """Which channels the debtor can be written to: a valid e-mail, a valid phone (one query)."""
    kinds = set(
        ContactPoint.objects.filter(
            debtor_id=case.debtor_id, quality=ContactQuality.VALID, kind__in=[ContactKind.EMAIL, ContactKind.PHONE]
        )
        .exclude(value="")
        .values_list("kind", flat=True)
    )
    return {Channel.EMAIL: ContactKind.EMAIL in kinds, Channel.SMS: ContactKind.PHONE in kinds}


def _system_or_agent(actor):
    """Messages to debtors are the agency's: a creditor's approver who accepted a plan sends nothing himself."""
    return actor if actor is not None and can_work_cases(actor) else None


def _document_send(plan: Plan, *, case: Case, instalments: list[Instalment], actor, address_problem: str) -> str:
    """The document to the debtor (C16: notified to both parties). It is owed, as a receipt is, not a recovery
    contact: e-mailed with its PDF through the outbox when the debtor has a valid e-mail (outside the contact
    rule's caps and hours), else posted with the next daily print run (`letters.printables`); with neither, a
    task asks the case's agent to hand it over. Returns « email », « post » or « hand »."""
    to = debtor_email(case=case)
    if to:
        context = {
            **_message_context(plan, case, instalments),
            "agency": agency_get(),
            "case": case,
            "creditor": case.creditor,
            "first_letter": Letter.objects.filter(case=case, kind=LetterKind.FIRST).first(),
        }
        document_email_queue(
            case=case,
            to=to,
            subject=f"Votre plan d'apurement {plan.number} — dossier {case.reference}",
            text=render_to_string("messages/plan_granted_email.txt", context),
            html=render_to_string("messages/plan_granted_email.html", context),
            attachment=plan.pdf,
            attachment_name=f"{plan.number}.pdf",
            attachment_sha256=plan.sha256,
            actor=actor,
            kind=MessageKind.PLAN,
        )
        plan.emailed_to = to
        plan.save(update_fields=["emailed_to"])
        return "email"
    if plan.address_lines:
        return "post"
    task_open(
        case=case,
        kind=TaskKind.PLAN_FOLLOW_UP,
        reason=f"Plan {plan.number} à remettre au débiteur : ni e-mail ni adresse valide ({address_problem})",
        due_on=timezone.localdate(),
        actor=_system_or_agent(actor),
    )
    return "hand"


def _message_context(plan: Plan, case: Case, instalments: list[Instalment], **extra) -> dict:
    terms = terms_for(case.creditor_id)
    return {
        "plan": plan,
        "instalments": instalments,
        "salutation": salutation(case.debtor),
        "total": format_money(plan.total),
        "balance": format_money(case.balance),
        "grace_days": terms.plan_grace_days,
        "max_missed": terms.plan_max_missed,
        **extra,
    }


# --- matching payments ------------------------------------------------------------------------------------------


def _refill(plan: Plan, *, balance: Decimal) -> Decimal:
    """Share what the debtor has paid toward the plan — its total less the case's balance: the plan's total was
    the balance when it was proposed — among the instalments in date order: an instalment is paid when full, an
    overpayment goes on to the next, a reversal takes back from the latest filled. Returns the amount shared."""
    paid = min(max(plan.total - balance, ZERO), plan.total)
    left = paid
    missed = 0
    changed = []
    for instalment in Instalment.objects.select_for_update().filter(plan=plan).order_by("rank"):
        share = min(instalment.amount, left)
        left -= share
        if share == instalment.amount:
            status = InstalmentStatus.PAID
        elif instalment.status == InstalmentStatus.MISSED:
            status = InstalmentStatus.MISSED
        else:
            status = InstalmentStatus.PENDING
        missed += status == InstalmentStatus.MISSED
        if (share, status) != (instalment.paid_amount, instalment.status):
            instalment.paid_amount, instalment.status = share, status
            changed.append(instalment)
    if changed:
        Instalment.objects.bulk_update(changed, ["paid_amount", "status"])
    if plan.missed_count != missed:
        plan.missed_count = missed
        plan.save(update_fields=["missed_count"])
    return paid


def _case_balance(plan: Plan) -> Decimal:
    return Case.objects.values_list("balance", flat=True).get(pk=plan.case_id)


def plan_apply_payment(*, plan: Plan, payment: Payment, actor) -> None:
    """Fill the plan's instalments with a payment; called inside the payment's transaction. The plan is honoured
    (« Honoré ») when the balance reaches zero; the payments service then makes the case « Soldé »."""
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    balance = _case_balance(plan)
    _refill(plan, balance=balance)
    if balance == ZERO and plan.status == PlanStatus.ACTIVE:
        plan.status = PlanStatus.COMPLETED
        plan.ended_at = timezone.now()
        plan.save(update_fields=["status", "ended_at"])
        audit_record(
            actor=actor,
            verb="plan.completed",
            target=plan,
            after={"number": plan.number, "payment": payment.pk, "total": plan.total},
        )


def plan_apply_reversal(*, plan: Plan, payment: Payment, actor) -> None:
    """Take a reversed payment back from the instalments it had filled, the latest first. A plan the payment had
    completed runs again (the payments service then puts the case back on its plan)."""
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    balance = _case_balance(plan)
    if plan.status == PlanStatus.COMPLETED and balance > ZERO:
        if Plan.objects.filter(case_id=plan.case_id, status__in=RUNNING).exists():
            return  # a newer plan runs: the honoured one stays so
        plan.status = PlanStatus.ACTIVE
        plan.ended_at = None
        plan.save(update_fields=["status", "ended_at"])
        audit_record(
            actor=actor,
            verb="plan.reopened",
            target=plan,
            after={"number": plan.number, "payment": payment.pk, "balance": balance},
        )
    if plan.status == PlanStatus.ACTIVE:
        _refill(plan, balance=balance)


# --- the print run's side (registered in PaymentsConfig.ready) -------------------------------------------------


def plans_to_post(*, day: date, lock: bool) -> list[PrintItem]:
    """The documents of the plans granted by `day`, not e-mailed, with an address, not yet printed: a plan granted
    after a day's run goes with the next run."""
    plans = (
        Plan.objects.filter(granted_at__date__lte=day, printed_on__isnull=True, emailed_to="")
        .exclude(pdf="")
        .exclude(address_lines=[])
        .select_related("case__debtor")
        .order_by("granted_at", "number", "pk")
    )
    return print_items(plans, lock=lock)


def plans_mark_printed(*, pks: list[int], day: date) -> None:
    Plan.objects.filter(pk__in=pks, printed_on__isnull=True).update(printed_on=day)


# --- the daily check --------------------------------------------------------------------------------------------


@dataclass
class PlanCheck:
    """What `check_plans` did on a day; `as_json` is the command's output."""

    day: date
    missed: int = 0
    reminded: int = 0
    reminder_tasks: int = 0
    deferred: int = 0
    broken: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "date": self.day.isoformat(),
            "missed": self.missed,
            "reminded": self.reminded,
            "reminder_tasks": self.reminder_tasks,
            "deferred": self.deferred,
            "broken": self.broken,
            "cancelled": self.cancelled,
            "errors": self.errors,
        }


def _plans_to_check(today: date) -> list[int]:
    """Active plans with an instalment past its date and not paid, or missed and not yet reminded, or whose case
    has ended: two queries whatever the number of plans."""
    due = Instalment.objects.filter(plan__status=PlanStatus.ACTIVE).filter(
        status=InstalmentStatus.PENDING, due_on__lt=today
    ) | Instalment.objects.filter(
        plan__status=PlanStatus.ACTIVE, status=InstalmentStatus.MISSED, reminded_at__isnull=True
    )
    ids = set(due.values_list("plan_id", flat=True))
    ids |= set(
        Plan.objects.filter(status=PlanStatus.ACTIVE, case__status__in=CaseStatus.ENDED).values_list("pk", flat=True)
    )
    return sorted(ids)


def plans_check(*, today: date, actor=None) -> PlanCheck:
    """The daily follow-up of the active plans (`check_plans`, run by `run_daily`): an instalment still unpaid
    `plan_grace_days` after its date is missed; the plan breaks once `plan_max_missed` instalments are missed
    (the case goes back « En cours », its scenario resumes, the agent and the creditor are told); otherwise each
    missed instalment gets one reminder (e-mail, else SMS, within the contact rule; a task for the agent when no
    message can go; tried again the next day when the rule only defers it). A plan whose case ended (recall,
    closure) is cancelled. Each plan in its own transaction; idempotent: a second run the same day does
    nothing."""
    report = PlanCheck(day=today)
    for plan_id in _plans_to_check(today):
        try:
            with transaction.atomic():
                _check_one(plan_id, today=today, report=report, actor=actor)
        except ApplicationError as exc:
            report.errors.append(f"plan n° {plan_id} : {exc.message}")
    return report


def _check_one(plan_id: int, *, today: date, report: PlanCheck, actor) -> None:
    plan = Plan.objects.select_related("case").get(pk=plan_id)
    case = case_lock(plan.case)
    plan = Plan.objects.select_for_update().get(pk=plan_id)
    if plan.status != PlanStatus.ACTIVE:
        return
    if case.status in CaseStatus.ENDED:
        _end(
            plan,
            status=PlanStatus.CANCELLED,
            verb="plan.cancelled",
            actor=actor,
            reason=f"Dossier {case.get_status_display().lower()}",
        )
        report.cancelled += 1
        return
    if case.status != CaseStatus.PAYMENT_PLAN:
        return  # suspended (a stopping event): nothing is missed nor chased meanwhile
    terms = terms_for(case.creditor_id)
    limit = today - timedelta(days=terms.plan_grace_days)
    instalments = list(Instalment.objects.select_for_update().filter(plan=plan).order_by("rank"))
    for instalment in instalments:
        if instalment.status == InstalmentStatus.PENDING and instalment.due_on < limit:
            instalment.status = InstalmentStatus.MISSED
            instalment.save(update_fields=["status"])
            report.missed += 1
            audit_record(
                actor=actor,
                verb="plan.instalment_missed",
                target=plan,
                after={
                    "number": plan.number,
                    "rank": instalment.rank,
                    "due_on": instalment.due_on,
                    "amount": instalment.amount,
                    "paid": instalment.paid_amount,
                },
            )
    missed = [i for i in instalments if i.status == InstalmentStatus.MISSED]
    if plan.missed_count != len(missed):
        plan.missed_count = len(missed)
        plan.save(update_fields=["missed_count"])
    if len(missed) >= terms.plan_max_missed:
        _break(plan, case=case, missed=missed, actor=actor)
        report.broken += 1
        return
    for instalment in missed:
        if instalment.reminded_at is None:
            outcome = _remind(plan, instalment, case=case, instalments=instalments, terms=terms, actor=actor)
            if outcome == "deferred":
                report.deferred += 1
            elif outcome == "task":
                report.reminder_tasks += 1
            else:
                report.reminded += 1


def _remind(plan: Plan, instalment: Instalment, *, case: Case, instalments, terms, actor) -> str:
    """One reminder of a missed instalment: an e-mail, else an SMS, when the contact rule allows one now (asked as
    a plan's follow-up); « deferred » when the rule only puts it off (day, hours, cap): the next run tries again;
    otherwise a task tells the case's agent that the debtor could not be reminded, and why."""
    reasons, deferred = [], False
    points = _debtor_points(case)
    context = _message_context(
        plan,
        case,
        instalments,
        instalment=instalment,
        amount=format_money(instalment.amount),
        unpaid=format_money(instalment.amount - instalment.paid_amount),
    )
    for channel in (Channel.EMAIL, Channel.SMS):
        if not points[channel]:
            continue
        block = case_contact_block(case, channel, plan_follow_up=True)
        if block is not None:
            deferred = deferred or (block.key not in LASTING_BLOCKS and block.next_at is not None)
            reasons.append(f"{Channel(channel).label} : {block.message}")
            continue
        try:
            notice_send(
                case=case,
                channel=channel,
                template=f"messages/plan_reminder_{channel}",
                context=context,
                subject=f"Échéance de votre plan d'apurement {plan.number} — dossier {case.reference}",
                summary=f"Rappel de l'échéance {instalment.rank} du plan {plan.number}",
                actor=_system_or_agent(actor),
                kind=MessageKind.INSTALMENT,
            )
        except ApplicationError as exc:
            reasons.append(f"{Channel(channel).label} : {exc.message}")
            continue
        instalment.reminded_at = timezone.now()
        instalment.save(update_fields=["reminded_at"])
        return channel
    if deferred:
        return "deferred"
    task_open(
        case=case,
        kind=TaskKind.PLAN_FOLLOW_UP,
        reason=(
            f"Échéance {instalment.rank} du plan {plan.number} ({format_money(instalment.amount)} au "
            f"{format_date(instalment.due_on)}) impayée, rappel impossible par message : "
            f"{' ; '.join(reasons) or 'aucun e-mail ni téléphone valide'}"
        ),
        due_on=timezone.localdate(),
        actor=_system_or_agent(actor),
    )
    instalment.reminded_at = timezone.now()
    instalment.save(update_fields=["reminded_at"])
    return "task"


def _break(plan: Plan, *, case: Case, missed: list[Instalment], actor) -> None:
    """Too many instalments missed: the plan ends « Rompu », the case goes back « En cours » so that its
    recovery scenario resumes for the balance, and the agent and the creditor's staff are told."""
    plan.status = PlanStatus.BROKEN
    plan.ended_at = timezone.now()
    plan.save(update_fields=["status", "ended_at"])
    audit_record(
        actor=actor,
        verb="plan.broken",
        target=plan,
        after={"number": plan.number, "missed": [i.rank for i in missed], "balance": case.balance},
    )
    case_transition(
        case=case,
        to=CaseStatus.IN_PROGRESS,
        actor=actor,
        reason=f"Plan d'apurement {plan.number} rompu : {len(missed)} échéance(s) impayée(s)",
    )
    notify(
        recipients=[
            *agency_contacts(case=case),
            *creditor_staff(creditor_id=case.creditor_id, structure_id=case.structure_id),
        ],
        kind="plan_broken",
        title=f"Plan d'apurement {plan.number} rompu sur le dossier {case.reference}",
        body=(
            f"{len(missed)} échéance(s) impayée(s) après le délai de grâce. Le recouvrement amiable reprend pour le "
            f"reste dû de {format_money(case.balance)}."
        ),
        url=f"/dossiers/{case.pk}/#plan",
        case_pk=case.pk,
    )


# --- other proposals (C19) --------------------------------------------------------------------------------------


@transaction.atomic
def settlement_proposal_send(
    *, case: Case, proposal: str, actor, amount: Decimal | str | None = None, dates: str = ""
) -> ApprovalRequest:
    """A debtor's proposal to settle otherwise than by paying at once (a payment by a third party, a reduced
    sum, a later date…), recorded by the agent and put to the creditor as a decision (C19, L5): its approvers are
    told at once by the request, and the rest of its staff of the case by a notification."""
    proposal = proposal.strip()
    if not proposal:
        raise ApplicationError("Décrivez la proposition du débiteur.")
    parts = [f"Proposition du débiteur : {proposal}"]
    if amount not in (None, ""):
        try:
            money = to_money(amount)
        except (TypeError, ValueError) as exc:
            raise ApplicationError(f"Montant proposé illisible : « {amount} ».") from exc
        if money <= ZERO:
            raise ApplicationError("Le montant proposé doit être supérieur à 0,00 €.")
        parts.append(f"Montant proposé : {format_money(money)} (reste dû : {format_money(case.balance)}).")
    dates = " ".join(dates.split())
    if dates:
        parts.append(f"Date(s) proposée(s) : {dates[:300]}.")
    approval = approval_request(
        case=case, kind=ApprovalKind.ALTERNATIVE_SETTLEMENT, proposal="\n".join(parts), actor=actor
    )
    deciders = {
        u.pk for u in creditor_staff(creditor_id=case.creditor_id, structure_id=case.structure_id, deciders_only=True)
    }
    notify(
        recipients=[
            u
            for u in creditor_staff(creditor_id=case.creditor_id, structure_id=case.structure_id)
            if u.pk not in deciders
        ],
        kind="settlement_proposed",
        title=f"Proposition de règlement du débiteur sur le dossier {case.reference}",
        body=proposal[:300],
        url=f"/dossiers/{case.pk}/#decisions",
        case_pk=case.pk,
    )
    return approval
