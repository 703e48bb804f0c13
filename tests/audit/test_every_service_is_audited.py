"""Every public function of every service module writes its audit event. The modules are found by walking
the `amiable` package (every module named `services` or `services_*`), plus the other modules whose public
functions write (WRITING_MODULES); a new service therefore fails here until it has a call in SERVICE_CALLS
that runs it successfully, or a reason in NOT_AUDITED."""

import importlib
import inspect
import pkgutil
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.utils import timezone
from django.utils.functional import cached_property
from django_otp.oath import totp

import amiable
from amiable.accounts import services as accounts_services
from amiable.accounts import services_team, services_twofactor
from amiable.accounts.tokens import invitation_token_generator
from amiable.approvals import services as approvals_services
from amiable.audit import services as audit_services
from amiable.audit.models import AccessLogEntry, AuditEvent
from amiable.banking import services as banking_services
from amiable.banking.models import BankEntry, EntryStatus
from amiable.cases import services as cases_services
from amiable.cases import services_assignment
from amiable.cases.models import Case, CaseStatus, ContactPoint, TaskKind
from amiable.casework import services as casework_services
from amiable.closure import services as closure_services
from amiable.closure import services_handover
from amiable.closure.models import DocumentReturn
from amiable.contact import messaging, points
from amiable.contact import services as contact_services
from amiable.contact.models import MessageStatus, OutboxMessage
from amiable.creditor_requests import services as requests_services
from amiable.creditors import services as creditors_services
from amiable.creditors.models import ContractTerms
from amiable.intake import crypto
from amiable.intake import services as intake_services
from amiable.intake.models import BatchSource
from amiable.invoicing import services as invoicing_services
from amiable.invoicing.models import Invoice
from amiable.invoicing.settlement import invoice_mark_paid
from amiable.ledger import services as ledger_services
from amiable.letters import defaults as letters_defaults
from amiable.letters import print_batch
from amiable.letters import services as letters_services
from amiable.letters import services_bulk as letters_bulk
from amiable.payments import plans, services_statement
from amiable.payments import receipts as payments_receipts
from amiable.payments import services as payments_services
from amiable.payments.models import PaymentMethod
from amiable.payments.services import payment_record
from amiable.remittances import matching as remittance_matching
from amiable.remittances import services as remittances_services
from amiable.remittances.execution import remittance_mark_executed
from amiable.remittances.models import Remittance, RemittanceStatus
from amiable.reporting import services_clocks, services_meetings
from amiable.reporting.clocks import Clock
from amiable.reporting.services_quarterly import quarterly_report_build
from amiable.scenarios import defaults as scenarios_defaults
from amiable.scenarios import services as scenarios_services
from tests.banking.records import balance, cfonb, movement
from tests.factories import PASSWORD, make_case, make_user
from tests.invoicing.pages_data import written_invoice
from tests.remittances.pages_data import written_remittance
from tests.work_fixtures import DEBTOR_EMAIL, DEBTOR_PHONE, first_letter_sent

PARIS = ZoneInfo("Europe/Paris")
# A Tuesday morning: every channel of the contact rule is open.
NOW = datetime(2026, 10, 13, 10, 0, tzinfo=PARIS)
ACKNOWLEDGED = date(2026, 10, 5)
DATA = Path(__file__).resolve().parent.parent / "data"
BATCH = "cpam-lot-virgule.csv"

# Modules whose public functions write, besides the `services*` modules.
WRITING_MODULES = [
    "amiable.closure.ending",
    "amiable.contact.messaging",
    "amiable.contact.points",
    "amiable.intake.crypto",
    "amiable.invoicing.settlement",
    "amiable.letters.defaults",
    "amiable.letters.print_batch",
    "amiable.remittances.matching",
    "amiable.payments.plans",
    "amiable.payments.receipts",
    "amiable.remittances.execution",
    "amiable.scenarios.defaults",
]

# Modules that call audit_record without being service modules: receivers, the user manager, the admin.
AUDITING_NON_SERVICES = {
    "amiable.accounts.models": "the user manager's create_user/create_superuser, audited as `user.created`",
    "amiable.accounts.signals": "login, logout, failed login and lockout receivers",
    "amiable.audit.admin": "the administration's AuditedAdminMixin",
}

# Public functions of those modules that legitimately write no audit event.
NOT_AUDITED = {
    "amiable.creditors.services.creditor_staff_sessions_end": (
        "logs out a deactivated creditor's staff; the deactivation itself is audited (creditor.updated)"
    ),
    "amiable.cases.services.case_lock": "locks the case row for its caller's transaction; writes nothing",
    "amiable.accounts.services_twofactor.normalise_code": "pure helper: cleans a typed code",
    "amiable.audit.services.audit_record": "writes the audit trail itself",
    "amiable.audit.services.audit_record_many": "writes the audit trail itself, many events at once",
    "amiable.audit.services.snapshot": "pure helper: the fields of a row for before/after",
    "amiable.scenarios.services.due_case_queries": "reads: each step's due-case query, for the run and its bench",
    "amiable.payments.services.payments_mark_remitted": "part of remittance making, whose remittance is audited",
    "amiable.audit.services.audit_event": "builds the event audit_record writes, for a bulk service to write",
    "amiable.audit.services.audit_events_write": "writes the audit trail itself (events built by audit_event)",
    "amiable.audit.services.audit_rows_write": "writes the audit trail itself (rows of AUDIT_FIELDS, chained)",
    "amiable.audit.services.access_log_record": "is itself a trail, of the agency and creditor staff's reads (L11)",
    "amiable.cases.services.case_mark_read": "UI state: when a person last opened a case page (unread markers)",
    "amiable.contact.services.phone_e164": "pure helper: normalises a phone number",
    "amiable.contact.messaging.email_content": "composes the e-mail and checks it; email_send sends and audits",
    "amiable.contact.messaging.sms_content": "composes the SMS and checks it; sms_send sends and audits",
    "amiable.contact.messaging.failure_reason": "words a delivery error; the delivery that failed audits it",
    "amiable.contact.messaging.outbox_due": "a read: the messages deliver_outbox would attempt",
    "amiable.payments.plans.plan_schedule": "checks a proposed schedule and writes nothing (the form's preview)",
    "amiable.payments.plans.plan_duration_months": "pure helper: a plan's length in months",
    "amiable.payments.plans.plan_running": "a read: the active plan of a case",
    "amiable.payments.plans.plan_for_reversal": "a read: the plan a reversal takes money back from",
    "amiable.payments.plans.plan_get": "a read: one plan the user may see",
    "amiable.remittances.matching.remittances_outgoing": "a read: the remittances the bank has not booked yet",
    "amiable.payments.plans.plan_document_render": "renders and checks the document; the grant stores and audits it",
    "amiable.contact.messaging.debtor_email": "a read: the debtor's valid e-mail address",
    "amiable.intake.crypto.is_openpgp": "pure helper: sniffs the bytes of a file",
    "amiable.intake.crypto.transmission_policy_check": "a check: a refusal writes nothing, the import audits",
    "amiable.intake.crypto.decrypt": "pure: decrypts bytes in memory; batch_import audits the import",
    "amiable.intake.crypto.encrypt_for_storage": "pure: encrypts bytes in memory",
    "amiable.intake.crypto.decrypt_from_storage": "pure: decrypts bytes in memory",
    "amiable.intake.crypto.import_key": (
        "the GnuPG keyring, not the database: the operator's gpg_import_key; a creditor's key is audited by "
        "register_creditor_key"
    ),
    "amiable.intake.services.import_job_progress": "reads the progress of an import from the cache",
    "amiable.intake.services.import_job_stale": "pure: whether a job's heartbeat is older than the lease",
    "amiable.intake.services.import_job_lost": "pure: whether a waiting job has waited longer than the lease",
    "amiable.intake.services.import_job_requeued_at": "pure: when a waiting job was queued again, for its page",
    "amiable.letters.print_batch.print_pending": "read: the letters waiting for the print batch",
    "amiable.letters.print_batch.print_runs_list": "read: the print runs whose files are still stored",
    "amiable.letters.print_batch.print_file_name": "pure: checks a print file's name from a link",
    "amiable.letters.print_batch.print_files_of_days": "read: the print files of some days (the erasure deletes them)",
    "amiable.letters.services.template_check": "pure: the legal check of a template",
    "amiable.letters.services.first_letter_mentions": "pure: the mentions a first letter must carry",
    "amiable.letters.services.letter_check": "pure: the legal check of a rendered letter",
    "amiable.letters.services.letter_text": "pure: the text of a rendered letter",
    "amiable.letters.services.letter_render": "pure: renders the HTML of a letter",
    "amiable.letters.services.letter_inputs": "read: what a letter prints besides its wording",
    "amiable.letters.services.letter_compose": "pure: renders the HTML of a letter from its inputs",
    "amiable.letters.services.letter_signatory": "pure: who signs a letter",
    "amiable.letters.services.letter_pdf": "pure: HTML to PDF",
    "amiable.letters.services.letter_preview": "a PDF marked « APERÇU »: nothing numbered, stored or audited",
    "amiable.letters.services.letter_get": "read: one letter the user may see",
    "amiable.payments.receipts.creditor_after_de": "pure: the creditor's name after « de »",
    "amiable.payments.receipts.debtor_reason": "pure: the reversal's reason as a debtor's document prints it",
    "amiable.payments.receipts.receipt_check": "pure: the legal check of a rendered receipt",
    "amiable.payments.receipts.receipts_to_post": "read: the receipts waiting for the print batch",
    "amiable.payments.receipts.receipts_mark_printed": "marks printed within print_batch_build, which audits the run",
    "amiable.payments.plans.plans_to_post": "read: the plans' documents waiting for the print batch",
    "amiable.payments.plans.plans_mark_printed": "marks printed within print_batch_build, which audits the run",
    "amiable.closure.ending.document_items": "a read: what the agency holds for a case, listed for its return",
    "amiable.notifications.services.notify": "in-app notices of an event the calling service has audited",
    "amiable.notifications.services.send_urgent": "e-mails notices already published; marks them sent",
    "amiable.notifications.services.send_digest": "e-mails notices already published; marks them sent",
    "amiable.notifications.services.notification_mark_read": "UI state: which notices a person has seen",
    "amiable.notifications.services.notifications_withdraw": "UI state; the caller audits the cancellation",
    "amiable.notifications.services.preference_save": "a person's own choice of e-mails for their notices",
    "amiable.reporting.services_rollup.stats_refresh": (
        "derived figures: rebuilds the dashboards' rollup from the audited business data, changes none of it"
    ),
}


def service_modules() -> list[str]:
    """Every `services` or `services_*` module of the amiable package, and the other writing modules."""
    names = set(WRITING_MODULES)
    for info in pkgutil.walk_packages(amiable.__path__, prefix="amiable."):
        last = info.name.rsplit(".", 1)[-1]
        if last == "services" or last.startswith("services_"):
            names.add(info.name)
    return sorted(names)


def public_functions() -> list[str]:
    names = []
    for module_name in service_modules():
        module = importlib.import_module(module_name)
        for name, obj in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("_") and obj.__module__ == module_name:
                names.append(f"{module_name}.{name}")
    return sorted(names)


def audited_services() -> list[str]:
    return [name for name in public_functions() if name not in NOT_AUDITED]


def _auto_assign(w):
    ContractTerms.objects.filter(creditor=w.reference.cpam).update(auto_assignment="round_robin")
    case = make_case(structure=w.reference.cdop, reference="AUTO-1")
    services_assignment.cases_auto_assign(creditor=w.reference.cpam, cases=Case.objects.filter(pk=case.pk), actor=None)


class World:
    """What the calls need, built on first use: a CDOP case of the agent, acknowledged, with a valid e-mail
    and phone, and its first letter when asked."""

    def __init__(self, request, reference, users, case_factory):
        self.request, self.reference, self.users, self._case_factory = request, reference, users, case_factory

    @cached_property
    def case(self):
        return self._case_factory(
            ack=ACKNOWLEDGED, email=DEBTOR_EMAIL, phone=DEBTOR_PHONE, assigned_agent=self.users.agent
        )

    @cached_property
    def contacted_case(self):
        """The case once its first letter is out: calls, e-mails and SMS may follow it (R124-4)."""
        first_letter_sent(self.case)
        self.case.refresh_from_db()
        return self.case

    def queued_email(self, *, due: bool = False):
        message = messaging.email_send(case=self.contacted_case, actor=self.users.agent)
        if due:  # its delivery did not follow the decision: deliver_outbox takes it over
            OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=1))
        return message

    def failed_email(self):
        message = self.queued_email()
        OutboxMessage.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, attempts=1, error="refusé")
        message.refresh_from_db()
        return message

    def promise(self):
        contact_services.call_record(
            case=self.contacted_case,
            actor=self.users.agent,
            number=DEBTOR_PHONE,
            outcome="promise",
            promise_amount="50.00",
            promise_due_on=timezone.localdate(),
        )
        return self.contacted_case.promises.get()

    def approval(self):
        return approvals_services.approval_request(
            case=self.case, kind="court_action", proposal="Assigner le débiteur", actor=self.users.agent
        )

    def question(self, kind="question"):
        case = self.case if kind != "meeting" else None
        return requests_services.request_create(
            kind=kind, body="Où en est ce dossier ?", actor=self.users.approver, case=case
        )

    def meeting_slots(self):
        meeting = self.question(kind="meeting")
        slot = timezone.now() + timedelta(days=1)
        return requests_services.meeting_propose(request=meeting, slots=[slot], actor=self.users.agent)

    def invitee(self):
        return services_team.user_invite(
            email="nouvelle.collegue@cpam.example",
            role="creditor_collaborator",
            creditor=self.reference.cpam,
            structures=[],
            first_name="Anne",
            last_name="Neuve",
            actor=self.users.creditor_admin,
        )

    def enrolled(self):
        """The agent with a confirmed authenticator; returns their recovery codes."""
        user = self.users.agent
        device = services_twofactor.totp_device_pending(user=user)
        code = f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"
        return services_twofactor.two_factor_confirm(user=user, code=code)

    def batch(self):
        outcome = intake_services.batch_import(
            creditor=self.reference.cpam,
            content=(DATA / BATCH).read_bytes(),
            filename=BATCH,
            source=BatchSource.COMMAND,
            actor=None,
        )
        assert outcome.status == "accepted", outcome.error
        return outcome.batch

    def import_job(self):
        return intake_services.import_job_create(
            creditor=self.reference.cpam, content=(DATA / BATCH).read_bytes(), filename=BATCH, actor=self.users.agent
        )

    def running_import_job(self):
        """A job its worker started, then died."""
        job = self.import_job()
        type(job).objects.filter(pk=job.pk).update(status="running", heartbeat_at=job.created_at)
        return job

    def checked_import_job(self):
        job = self.import_job()
        intake_services.import_job_execute(job_id=str(job.pk))
        job.refresh_from_db()
        return job

    def payment(self, amount=None):
        return payments_services.payment_record(
            case=self.case,
            amount=amount or "10.00",
            collected_on=timezone.localdate(),
            method="cheque",
            actor=self.users.agent,
        )

    def receipt(self):
        payment = payments_services.payment_record(
            case=self.case, amount="10.00", collected_on=timezone.localdate(), method="cheque", actor=self.users.agent
        )
        return payments_receipts.receipt_issue(payment=payment, actor=self.users.agent)  # the one already issued

    def letter_today(self):
        case = make_case(structure=self.reference.csr, last_name="Martin")
        return letters_services.letter_issue(case=case, kind="first", actor=self.users.agent)


def _purge_an_old_entry(w):
    AccessLogEntry.objects.create(
        at=NOW - timedelta(days=800), user=w.users.collaborator, user_label="x", kind="case_view", label="Dossier"
    )
    return audit_services.access_log_purge(months=12)


def _purge_an_old_print_file(w):
    folder = Path(settings.MEDIA_ROOT) / "print"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "2020-01-02.pdf").write_bytes(b"%PDF")
    return print_batch.print_files_purge(days=30)


def _task(w):
    task, _ = cases_services.task_open(case=w.case, kind="call", reason="Appeler", due_on=None)
    return task


def _declare(w):
    return closure_services.case_declare_irrecoverable(
        case=w.case, reason="untraceable", evidence="Recherches vaines", actor=w.users.supervisor
    )


def _investigation(w):
    task, _ = cases_services.task_open(
        case=w.case, kind=TaskKind.ADDRESS_INVESTIGATION, reason="Adresse douteuse", due_on=None
    )
    return task


_ADDRESS = {"address_line1": "1 rue X", "postal_code": "75001", "city": "Paris"}


def _plan(w, count=3):
    return plans.plan_propose(
        case=w.contacted_case, rhythm="monthly", count=count, first_due_on=timezone.localdate(), actor=w.users.agent
    )


def _pay_in_full(w):
    return payments_services.payment_record(
        case=w.contacted_case,
        amount=w.contacted_case.claimed_amount,
        collected_on=timezone.localdate(),
        method="transfer",
        actor=w.users.agent,
    )


def _bank_credit_queued(w):
    """A statement of the agency's account whose only credit names no case: it waits in the review queue."""
    content = cfonb(
        balance("01", "0", day="111026"),
        movement("30.00", "VIR SANS REFERENCE", day="121026"),
        balance("07", "30.00", day="121026"),
    )
    banking_services.statement_import(content=content, filename="releve.txt", actor=w.users.agent)
    return BankEntry.objects.get(status=EntryStatus.TO_REVIEW)


def _debit_before_its_remittance(w):
    """Last week's payment and a debit of its amount already imported; then the remittance, sent: the debit
    waits for a matching pass."""
    today = timezone.localdate()
    payments_services.payment_record(
        case=w.case, amount="10.00", collected_on=today - timedelta(days=7), method="cheque", actor=w.users.agent
    )
    day = f"{today:%d%m%y}"
    content = cfonb(
        balance("01", "100.00", day=day), movement("-10.00", "VIR SEPA", day=day), balance("07", "90.00", day=day)
    )
    banking_services.statement_import(content=content, filename="releve.txt", actor=w.users.agent)
    remittances_services.remittances_build(week_of=today, actor=w.users.agent)
    Remittance.objects.update(status=RemittanceStatus.SENT, sent_at=timezone.now())
    return list(BankEntry.objects.filter(status=EntryStatus.DEBIT))


def _files_lost(w):
    """Last week's remittance made, its files then lost: the completion makes them again."""
    payments_services.payment_record(
        case=w.case,
        amount="10.00",
        collected_on=timezone.localdate() - timedelta(days=7),
        method="cheque",
        actor=w.users.agent,
    )
    remittances_services.remittances_build(week_of=timezone.localdate(), actor=w.users.agent)
    Remittance.objects.update(statement_pdf="", statement_xlsx="", statement_csv="", transfer_xml="", documents_at=None)


def _september_payment(w):
    return payments_services.payment_record(
        case=w.case, amount="10.00", collected_on=date(2026, 9, 15), method="transfer", actor=w.users.agent
    )


def _late_clock(w):
    case = w.case
    return Clock(
        kind="certificate",
        key=f"case:{case.pk}",
        creditor_id=case.creditor_id,
        creditor_slug=case.creditor.slug,
        due=ACKNOWLEDGED,
        state="late",
        case_pk=case.pk,
        case_reference=case.reference,
        structure_id=case.structure_id,
    )


def _cheque(w):
    return payment_record(
        case=w.case, amount="30.00", collected_on=date(2026, 10, 9), method=PaymentMethod.CHEQUE, actor=w.users.agent
    )


# Each public service: the verb it must write, and a call that runs it successfully.
def _contract_started(w) -> None:
    """The CPAM's contract began a month ago: its 1-month meeting is today."""
    ContractTerms.objects.filter(creditor=w.reference.cpam).update(contract_start=date(2026, 9, 13))


def _meeting(w):
    _contract_started(w)
    return services_meetings.meetings_plan(today=timezone.localdate())[0]


SERVICE_CALLS = {
    # accounts
    "amiable.accounts.services.user_create": ("user.created", lambda w: make_user("agent")),
    "amiable.accounts.services.user_set_role": (
        "user.role_changed",
        lambda w: accounts_services.user_set_role(
            user=w.users.collaborator, role="creditor_approver", actor=w.users.agency_admin
        ),
    ),
    "amiable.accounts.services.user_deactivate": (
        "user.deactivated",
        lambda w: accounts_services.user_deactivate(user=w.users.collaborator, actor=w.users.agency_admin),
    ),
    "amiable.accounts.services.password_reset_throttle": (
        "auth.password_reset_throttled",
        lambda w: [
            accounts_services.password_reset_throttle(email="oubli@test.example", ip_address="10.0.0.9")
            for _ in range(settings.AMIABLE_PASSWORD_RESET_PER_ADDRESS + 1)
        ],
    ),
    "amiable.accounts.services.login_lockout_lift": (
        "auth.lockout_lifted",
        lambda w: (
            AccessAttempt.objects.create(
                username=w.users.agent.email,
                ip_address="10.0.0.9",
                user_agent="",
                http_accept="",
                path_info="/connexion/",
                get_data="",
                post_data="",
                failures_since_start=5,
            ),
            accounts_services.login_lockout_lift(user=w.users.agent, ip_address="10.0.0.9"),
        ),
    ),
    "amiable.accounts.services_team.user_invite": ("user.invited", lambda w: w.invitee()),
    "amiable.accounts.services_team.user_invitation_resend": (
        "user.invitation_resent",
        lambda w: services_team.user_invitation_resend(user=w.invitee(), actor=w.users.creditor_admin),
    ),
    "amiable.accounts.services_team.user_activate": (
        "user.activated",
        lambda w: (
            invitee := w.invitee(),
            services_team.user_activate(
                user=invitee, token=invitation_token_generator.make_token(invitee), password=PASSWORD
            ),
        ),
    ),
    "amiable.accounts.services_team.user_update_access": (
        "user.role_changed",
        lambda w: services_team.user_update_access(
            user=w.users.collaborator, role="creditor_approver", structures=[], actor=w.users.creditor_admin
        ),
    ),
    "amiable.accounts.services_team.user_reset_2fa": (
        "user.2fa_reset",
        lambda w: services_team.user_reset_2fa(user=w.users.collaborator, actor=w.users.agency_admin),
    ),
    "amiable.accounts.services_twofactor.totp_device_pending": (
        "auth.2fa_enrolment_started",
        lambda w: services_twofactor.totp_device_pending(user=w.users.agent),
    ),
    "amiable.accounts.services_twofactor.two_factor_confirm": ("auth.2fa_enrolled", lambda w: w.enrolled()),
    "amiable.accounts.services_twofactor.recovery_codes_regenerate": (
        "auth.2fa_codes_regenerated",
        lambda w: (w.enrolled(), services_twofactor.recovery_codes_regenerate(user=w.users.agent)),
    ),
    "amiable.accounts.services_twofactor.two_factor_verify": (
        "auth.2fa_verified",
        lambda w: services_twofactor.two_factor_verify(user=w.users.agent, code=w.enrolled()[0]),
    ),
    # approvals
    "amiable.approvals.services.approval_request": ("approval.requested", lambda w: w.approval()),
    "amiable.approvals.services.approval_decide": (
        "approval.decided",
        lambda w: approvals_services.approval_decide(
            approval=w.approval(), accept=True, comment="", actor=w.users.approver
        ),
    ),
    "amiable.approvals.services.approvals_cancel_for_case": (
        "approval.cancelled",
        lambda w: (
            w.approval(),
            approvals_services.approvals_cancel_for_case(case=w.case, actor=w.users.agent, reason="Dossier soldé"),
        ),
    ),
    # banking
    "amiable.banking.services.statement_import": ("bank_statement.imported", _bank_credit_queued),
    "amiable.banking.services.bank_entry_assign": (
        "bank_entry.assigned",
        lambda w: banking_services.bank_entry_assign(entry=_bank_credit_queued(w), case=w.case, actor=w.users.agent),
    ),
    "amiable.banking.services.bank_entry_link": (
        "bank_entry.linked",
        lambda w: banking_services.bank_entry_link(
            entry=_bank_credit_queued(w), payment=_cheque(w), actor=w.users.agent
        ),
    ),
    "amiable.banking.services.bank_entry_dismiss": (
        "bank_entry.dismissed",
        lambda w: banking_services.bank_entry_dismiss(
            entry=_bank_credit_queued(w), reason="Virement interne", actor=w.users.agent
        ),
    ),
    # remittances: last week's payment remitted by the weekly run
    "amiable.remittances.services.remittances_build": (
        "remittance.prepared",
        lambda w: (
            payments_services.payment_record(
                case=w.case,
                amount="10.00",
                collected_on=timezone.localdate() - timedelta(days=7),
                method="cheque",
                actor=w.users.agent,
            ),
            remittances_services.remittances_build(week_of=timezone.localdate(), actor=w.users.agent),
        ),
    ),
    "amiable.remittances.services.remittance_complete": (
        "remittance.documents_made",
        lambda w: (
            _files_lost(w),
            remittances_services.remittance_complete(remittance=Remittance.objects.get(), actor=w.users.agent),
        ),
    ),
    "amiable.remittances.services.remittances_complete": (
        "remittance.documents_made",
        lambda w: (_files_lost(w), remittances_services.remittances_complete(actor=w.users.agent)),
    ),
    "amiable.remittances.matching.remittance_debits_match": (
        "remittance.executed",
        lambda w: remittance_matching.remittance_debits_match(_debit_before_its_remittance(w), w.users.agent),
    ),
    "amiable.remittances.matching.remittances_match_pending": (
        "remittance.executed",
        lambda w: (_debit_before_its_remittance(w), remittance_matching.remittances_match_pending(actor=w.users.agent)),
    ),
    "amiable.remittances.execution.remittance_mark_executed": (
        "remittance.executed",
        lambda w: remittance_mark_executed(
            remittance=written_remittance(structure=w.case.structure, weeks_ago=0, files=False),
            executed_on=timezone.localdate(),
            actor=w.users.supervisor,
        ),
    ),
    # invoicing
    "amiable.invoicing.settlement.invoice_mark_paid": (
        "invoice.paid",
        lambda w: invoice_mark_paid(
            invoice=written_invoice(structure=w.case.structure, pdf=False),
            paid_on=timezone.localdate(),
            actor=w.users.supervisor,
        ),
    ),
    # invoicing: September's payment invoiced by the monthly run, its file stored again once lost
    "amiable.invoicing.services.invoices_build": (
        "invoice.issued",
        lambda w: (
            _september_payment(w),
            invoicing_services.invoices_build(month=date(2026, 9, 1), actor=w.users.agent),
        ),
    ),
    "amiable.invoicing.services.invoices_complete": (
        "invoice.document_stored",
        lambda w: (
            _september_payment(w),
            invoicing_services.invoices_build(month=date(2026, 9, 1), actor=w.users.agent),
            Invoice.objects.update(pdf="", sha256=""),
            invoicing_services.invoices_complete(actor=w.users.agent),
        ),
    ),
    # audit
    "amiable.audit.services.access_log_purge": ("access_log.purged", _purge_an_old_entry),
    # cases
    "amiable.cases.services.case_transition": (
        "case.status_changed",
        lambda w: cases_services.case_transition(case=w.case, to="in_progress", actor=w.users.agent),
    ),
    "amiable.cases.services.debtor_create": (
        "debtor.created",
        lambda w: cases_services.debtor_create(civility="M", last_name="Martin", actor=w.users.agent),
    ),
    "amiable.cases.services.contact_point_add": (
        "contact_point.added",
        lambda w: cases_services.contact_point_add(
            debtor=w.case.debtor, kind="email", value="a@b.example", source="Test", actor=w.users.agent
        ),
    ),
    "amiable.cases.services.contact_point_set_quality": (
        "contact_point.quality_changed",
        lambda w: cases_services.contact_point_set_quality(
            point=w.case.debtor.contact_points.first(), quality="doubtful", actor=w.users.agent
        ),
    ),
    "amiable.cases.services.case_create": (
        "case.created",
        lambda w: make_case(structure=w.reference.cdop, actor=w.users.agent),
    ),
    "amiable.cases.services.case_acknowledge": (
        "case.acknowledged",
        lambda w: cases_services.case_acknowledge(
            case=w.case, acknowledged_on=date(2026, 10, 6), certificate_months=12, actor=w.users.agent
        ),
    ),
    "amiable.cases.services.case_assign": (
        "case.assigned",
        lambda w: cases_services.case_assign(case=w.case, agent=w.users.supervisor, actor=w.users.supervisor),
    ),
    "amiable.cases.services.case_counters_rebuild": (
        "case_counters.rebuilt",
        lambda w: cases_services.case_counters_rebuild(actor=w.users.supervisor),
    ),
    "amiable.cases.services.task_agents_repair": (
        "task_agents.repaired",
        lambda w: cases_services.task_agents_repair(actor=w.users.supervisor),
    ),
    "amiable.cases.services.comment_add": (
        "comment.added",
        lambda w: cases_services.comment_add(
            case=w.case, author=w.users.collaborator, body="Le débiteur a appelé le centre."
        ),
    ),
    "amiable.cases.services.task_open": ("task.opened", _task),
    "amiable.cases.services.tasks_cancel_open": (
        "tasks.cancelled",
        lambda w: (_task(w), cases_services.tasks_cancel_open(case=w.case, actor=w.users.agent, reason="Test")),
    ),
    "amiable.cases.services.task_close": (
        "task.done",
        lambda w: cases_services.task_close(task=_task(w), actor=w.users.agent),
    ),
    "amiable.cases.services.case_event_add": (
        "case.event_recorded",
        lambda w: cases_services.case_event_add(
            case=w.case, kind="dispute", occurred_on=ACKNOWLEDGED, details="", actor=w.users.agent
        ),
    ),
    "amiable.cases.services.debtor_do_not_contact_set": (
        "debtor.do_not_contact_set",
        lambda w: cases_services.debtor_do_not_contact_set(debtor=w.case.debtor, actor=w.users.agent, value=True),
    ),
    # casework
    "amiable.casework.services.event_record": (
        "case.event_recorded",
        lambda w: casework_services.event_record(
            case=w.case, kind="dispute", occurred_on=ACKNOWLEDGED, details="Conteste la somme", actor=w.users.agent
        ),
    ),
    "amiable.casework.services.returned_mail_record": (
        "returned_mail.recorded",
        lambda w: casework_services.returned_mail_record(
            case=w.case, actor=w.users.agent, point=ContactPoint.objects.get(debtor=w.case.debtor, kind="address")
        ),
    ),
    "amiable.casework.services.investigation_record": (
        "investigation.done",
        lambda w: casework_services.investigation_record(
            task=_investigation(w), actor=w.users.agent, sources="Annuaire", result="Aucune autre adresse"
        ),
    ),
    "amiable.casework.services.cases_reassign": (
        "case.assigned",
        lambda w: casework_services.cases_reassign(
            case_ids=[w.case.pk], agent=make_user("agent"), actor=w.users.supervisor
        ),
    ),
    "amiable.casework.services.case_take": (
        "case.assigned",
        lambda w: casework_services.case_take(
            case=make_case(structure=w.reference.cdop, reference="A-PRENDRE"), actor=w.users.agent
        ),
    ),
    "amiable.cases.services_assignment.cases_auto_assign": ("case.assigned", _auto_assign),
    # contact
    "amiable.contact.services.call_record": (
        "call.recorded",
        lambda w: contact_services.call_record(
            case=w.contacted_case, actor=w.users.agent, number=DEBTOR_PHONE, outcome="reached"
        ),
    ),
    "amiable.contact.services.promises_check": (
        "promise.broken",
        lambda w: (w.promise(), contact_services.promises_check(today=timezone.localdate() + timedelta(days=1))),
    ),
    "amiable.contact.services.promises_cancel_for_case": (
        "promise.cancelled",
        lambda w: (
            w.promise(),
            contact_services.promises_cancel_for_case(case=w.contacted_case, actor=w.users.supervisor, reason="Clos"),
        ),
    ),
    "amiable.contact.services.promise_mark_kept": (
        "promise.kept",
        lambda w: contact_services.promise_mark_kept(promise=w.promise(), actor=w.users.agent),
    ),
    "amiable.contact.services.promise_keep_by_payment": (
        "promise.kept",
        lambda w: contact_services.promise_keep_by_payment(promise=w.promise(), payment_label="Virement", actor=None),
    ),
    "amiable.payments.services.payment_record": (
        "payment.recorded",
        lambda w: w.payment(),
    ),
    "amiable.payments.services.payment_reverse": (
        "payment.reversed",
        lambda w: payments_services.payment_reverse(
            payment=w.payment(), reversed_on=timezone.localdate(), reason="Chèque impayé", actor=w.users.agent
        ),
    ),
    "amiable.payments.services.refund_record": (
        "refund.recorded",
        lambda w: payments_services.refund_record(
            case=w.payment(amount=w.case.claimed_amount + 5).case,
            amount="5.00",
            refunded_on=timezone.localdate(),
            method="transfer",
            actor=w.users.agent,
        ),
    ),
    "amiable.ledger.services.ledger_post": (
        "ledger.posted",
        lambda w: ledger_services.ledger_post(
            kind="payment",
            source="test:1",
            posted_on=timezone.localdate(),
            memo="Écriture de test",
            lines=[
                ledger_services.Line(account="bank", amount=Decimal("1.00")),
                ledger_services.Line(account="creditor_funds", amount=Decimal("-1.00")),
            ],
            actor=None,
        ),
    ),
    "amiable.contact.points.contact_point_record": (
        "contact_point.added",
        lambda w: points.contact_point_record(case=w.case, kind="phone", value="06 11 22 33 44", actor=w.users.agent),
    ),
    "amiable.contact.points.contact_point_correct": (
        "contact_point.corrected",
        lambda w: points.contact_point_correct(
            case=w.case,
            point=points.contact_point_record(case=w.case, kind="email", value="a@exemple.fr", actor=w.users.agent),
            value="b@exemple.fr",
            actor=w.users.agent,
        ),
    ),
    "amiable.contact.points.contact_point_verify": (
        "contact_point.quality_changed",
        lambda w: points.contact_point_verify(
            case=w.case,
            point=points.contact_point_record(case=w.case, kind="phone", value="0611223355", actor=w.users.agent),
            actor=w.users.agent,
        ),
    ),
    "amiable.contact.messaging.email_send": (
        "email.queued",
        lambda w: messaging.email_send(case=w.contacted_case, actor=w.users.agent),
    ),
    "amiable.contact.messaging.reminders_queue": (
        "email.queued",
        lambda w: messaging.reminders_queue(
            channel="email",
            items=[(w.contacted_case, messaging.email_content(case=w.contacted_case), "E-mail de relance")],
            actor=w.users.agent,
            at=timezone.now(),
        ),
    ),
    "amiable.contact.messaging.sms_send": (
        "sms.queued",
        lambda w: messaging.sms_send(case=w.contacted_case, actor=w.users.agent),
    ),
    "amiable.contact.messaging.message_deliver": (
        "email.sent",
        lambda w: messaging.message_deliver(message_id=w.queued_email().pk),
    ),
    "amiable.contact.messaging.message_retry": (
        "email.retried",
        lambda w: messaging.message_retry(message=w.failed_email(), actor=w.users.agent),
    ),
    "amiable.contact.messaging.outbox_deliver_due": (
        "email.sent",
        lambda w: (w.queued_email(due=True), messaging.outbox_deliver_due()),
    ),
    "amiable.contact.messaging.document_email_queue": (
        "email.document_queued",
        lambda w: w.receipt(),  # a receipt e-mailed to the debtor, who has a valid address
    ),
    # creditor requests
    "amiable.creditor_requests.services.request_create": ("request.created", lambda w: w.question()),
    "amiable.creditor_requests.services.request_answer": (
        "request.answered",
        lambda w: requests_services.request_answer(
            request=w.question(), answer="Le débiteur a promis de payer.", actor=w.users.agent
        ),
    ),
    "amiable.creditor_requests.services.meeting_propose": ("meeting.slots_proposed", lambda w: w.meeting_slots()),
    "amiable.creditor_requests.services.meeting_confirm": (
        "meeting.confirmed",
        lambda w: requests_services.meeting_confirm(slot=w.meeting_slots()[0], actor=w.users.approver),
    ),
    "amiable.creditor_requests.services.case_recall": (
        "case.recalled",
        lambda w: requests_services.case_recall(case=w.case, reason="Payé au centre", actor=w.users.approver),
    ),
    # financial statements
    "amiable.payments.services_statement.statement_issue": (
        "statement.issued",
        lambda w: services_statement.statement_issue(case=w.case, actor=w.users.agent),
    ),
    "amiable.payments.services_statement.statement_answer": ("statement.issued", lambda w: w.question("statement")),
    # creditors
    "amiable.creditors.services.agency_save": (
        "agency.updated",
        lambda w: creditors_services.agency_save(actor=w.users.agency_admin, phone="01 02 03 04 05"),
    ),
    "amiable.creditors.services.creditor_save": (
        "creditor.updated",
        lambda w: creditors_services.creditor_save(slug="cpam-paris", actor=w.users.agency_admin, city="Paris 19e"),
    ),
    "amiable.creditors.services.structure_save": (
        "structure.created",
        lambda w: creditors_services.structure_save(
            creditor=w.reference.cpam, code="NEW", actor=w.users.agency_admin, name="Nouveau", **_ADDRESS
        ),
    ),
    "amiable.creditors.services.terms_save": (
        "terms.updated",
        lambda w: creditors_services.terms_save(creditor=w.reference.cpam, actor=w.users.agency_admin, meeting_days=5),
    ),
    # intake
    "amiable.intake.services.batch_import": ("batch.imported", lambda w: w.batch()),
    "amiable.intake.services.acknowledgement_send": (
        "batch.acknowledgement_sent",
        lambda w: intake_services.acknowledgement_send(batch_id=w.batch().pk),
    ),
    "amiable.intake.services.import_job_create": ("batch.uploaded", lambda w: w.import_job()),
    "amiable.intake.services.import_job_execute": (
        "batch.checked",
        lambda w: intake_services.import_job_execute(job_id=str(w.import_job().pk)),
    ),
    "amiable.intake.services.import_job_confirm": (
        "batch.confirmed",
        lambda w: intake_services.import_job_confirm(job=w.checked_import_job(), actor=w.users.agent),
    ),
    "amiable.intake.services.import_job_cancel": (
        "batch.cancelled",
        lambda w: intake_services.import_job_cancel(job=w.checked_import_job(), actor=w.users.agent),
    ),
    "amiable.intake.services.import_jobs_expire": (
        "batch.expired",
        lambda w: (w.checked_import_job(), intake_services.import_jobs_expire(days=0)),
    ),
    "amiable.intake.services.import_jobs_fail_stale": (
        "batch.interrupted",
        lambda w: intake_services.import_jobs_fail_stale(now=w.running_import_job().created_at + timedelta(hours=1)),
    ),
    "amiable.intake.services.import_jobs_requeue_lost": (
        "batch.requeued",
        lambda w: intake_services.import_jobs_requeue_lost(now=w.import_job().created_at + timedelta(hours=1)),
    ),
    "amiable.intake.crypto.register_creditor_key": (
        "creditor_key.registered",
        lambda w: (
            w.request.getfixturevalue("gnupg_home"),
            crypto.register_creditor_key(
                creditor=w.reference.cpam, armored=(DATA / "keys" / "creditor-test-public.asc").read_text(), actor=None
            ),
        ),
    ),
    "amiable.intake.crypto.agency_key_import": (
        "agency.updated",
        lambda w: (
            w.request.getfixturevalue("gnupg_home"),
            crypto.agency_key_import((DATA / "keys" / "agency-test-secret.asc").read_text(), actor=None),
        ),
    ),
    # letters
    "amiable.letters.services.letter_template_save": (
        "letter_template.saved",
        lambda w: letters_services.letter_template_save(
            creditor=w.reference.cpam,
            kind="reminder",
            name="Relance courte",
            body=letters_defaults.REMINDER,
            actor=w.users.agency_admin,
        ),
    ),
    "amiable.letters.services.letter_issue": (
        "letter.issued",
        lambda w: letters_services.letter_issue(case=w.case, kind="first", actor=w.users.agent),
    ),
    "amiable.letters.services_bulk.letters_issue_first": (
        "letter.issued",
        lambda w: letters_bulk.letters_issue_first(cases=[w.case], actor=w.users.agent, workers=1),
    ),
    "amiable.letters.print_batch.print_batch_build": (
        "letters.printed",
        lambda w: (w.letter_today(), print_batch.print_batch_build(day=timezone.localdate(), actor=w.users.agent)),
    ),
    "amiable.letters.print_batch.print_files_purge": ("letters.print_files_purged", _purge_an_old_print_file),
    "amiable.letters.defaults.letter_templates_ensure": (
        "letter_template.saved",
        lambda w: letters_defaults.letter_templates_ensure(creditor=w.reference.other),
    ),
    # payment plans
    "amiable.payments.plans.plan_propose": ("plan.proposed", _plan),
    "amiable.payments.plans.plan_decided": (
        "plan.granted",
        lambda w: approvals_services.approval_decide(
            approval=_plan(w, count=10).approval, accept=True, comment="", actor=w.users.approver
        ),
    ),
    "amiable.payments.plans.plan_apply_payment": ("plan.completed", lambda w: (_plan(w), _pay_in_full(w))),
    "amiable.payments.plans.plan_apply_reversal": (
        "plan.reopened",
        lambda w: (
            _plan(w),
            payments_services.payment_reverse(
                payment=_pay_in_full(w), reversed_on=timezone.localdate(), reason="Chèque impayé", actor=w.users.agent
            ),
        ),
    ),
    "amiable.payments.plans.plans_check": (
        "plan.instalment_missed",
        lambda w: (_plan(w), plans.plans_check(today=timezone.localdate() + timedelta(days=20))),
    ),
    "amiable.payments.plans.settlement_proposal_send": (
        "approval.requested",
        lambda w: plans.settlement_proposal_send(case=w.case, proposal="Payé par un tiers", actor=w.users.agent),
    ),
    "amiable.contact.messaging.notice_send": (
        "email.queued",
        lambda w: messaging.notice_send(
            case=w.contacted_case,
            channel="email",
            template="messages/email_reminder",
            context={},
            summary="Message rédigé par une autre app",
            actor=w.users.agent,
        ),
    ),
    # payments
    "amiable.payments.receipts.receipt_issue": ("receipt.issued", lambda w: w.receipt()),
    "amiable.payments.receipts.receipt_cancel": (
        "receipt.cancelled",
        lambda w: payments_services.payment_reverse(
            payment=w.receipt().payment, reversed_on=timezone.localdate(), reason="Chèque impayé", actor=w.users.agent
        ),
    ),
    # follow-up meetings
    "amiable.reporting.services_meetings.meetings_plan": ("meeting.planned", _meeting),
    "amiable.reporting.services_meetings.meetings_check": (
        "meeting.reminded",
        lambda w: (_contract_started(w), services_meetings.meetings_check()),
    ),
    "amiable.reporting.services_meetings.meeting_remind": (
        "meeting.reminded",
        lambda w: services_meetings.meeting_remind(meeting=_meeting(w)),
    ),
    "amiable.reporting.services_meetings.meeting_pack_build": (
        "meeting.pack_built",
        lambda w: services_meetings.meeting_pack_build(meeting=_meeting(w), actor=w.users.supervisor),
    ),
    "amiable.reporting.services_meetings.meeting_minutes_save": (
        "meeting.minutes_saved",
        lambda w: services_meetings.meeting_minutes_save(
            meeting=_meeting(w), held_on=timezone.localdate(), minutes="Compte rendu", actor=w.users.supervisor
        ),
    ),
    # reporting
    "amiable.reporting.services_quarterly.quarterly_report_build": (
        "quarterly_report.built",
        lambda w: quarterly_report_build(creditor=w.reference.cpam, quarter="2026-Q3", actor=w.users.supervisor),
    ),
    # end of contract: the other creditor (no case) exported, then its personal data erased
    "amiable.closure.services_handover.creditor_export": (
        "creditor.exported",
        lambda w: services_handover.creditor_export(
            creditor=w.reference.other, actor=w.users.agency_admin, output_dir=w.request.getfixturevalue("tmp_path")
        ),
    ),
    "amiable.closure.services_handover.creditor_export_verify": (
        "creditor.export_verified",
        lambda w: services_handover.creditor_export_verify(
            export=services_handover.creditor_export(
                creditor=w.reference.other, actor=None, output_dir=w.request.getfixturevalue("tmp_path")
            ),
            actor=w.users.agency_admin,
        ),
    ),
    "amiable.closure.services_handover.creditor_data_erase": (
        "creditor.data_erased",
        lambda w: services_handover.creditor_data_erase(
            creditor=w.reference.other,
            export_reference=services_handover.creditor_export(
                creditor=w.reference.other, actor=None, output_dir=w.request.getfixturevalue("tmp_path")
            ).reference,
            actor=w.users.agency_admin,
        ),
    ),
    # closure
    "amiable.closure.services.case_declare_irrecoverable": ("certificate.issued", lambda w: _declare(w)),
    "amiable.closure.services.certificates_issue_bulk": (
        "certificate.issued",
        lambda w: closure_services.certificates_issue_bulk(
            case_ids=[w.case.pk], reason="untraceable", evidence="Recherches vaines", actor=w.users.supervisor
        ),
    ),
    "amiable.closure.services.case_end_of_contract": (
        "closure.recorded",
        lambda w: closure_services.case_end_of_contract(case=w.case, reason="Fin du marché", actor=w.users.supervisor),
    ),
    "amiable.closure.services.case_suspension_lift": (
        "case.suspension_lifted",
        lambda w: closure_services.case_suspension_lift(
            case=cases_services.case_transition(
                case=w.case, to=CaseStatus.SUSPENDED, actor=w.users.agent, reason="Contestation"
            ),
            reason="Contestation levée",
            actor=w.users.supervisor,
        ),
    ),
    "amiable.closure.services.case_reopen": (
        "closure.reopened",
        lambda w: (_declare(w), closure_services.case_reopen(case=w.case, reason="Retrouvé", actor=w.users.supervisor)),
    ),
    "amiable.closure.services.document_return_mark": (
        "documents.returned",
        lambda w: (
            _declare(w),
            closure_services.document_return_mark(
                document_return=DocumentReturn.objects.get(case=w.case),
                returned_on=timezone.localdate(),
                actor=w.users.agent,
            ),
        ),
    ),
    "amiable.closure.ending.case_ended": ("closure.recorded", lambda w: _pay_in_full(w)),
    "amiable.closure.ending.case_reopened": (
        "closure.reopened",
        lambda w: payments_services.payment_reverse(
            payment=_pay_in_full(w), reversed_on=timezone.localdate(), reason="Chèque impayé", actor=w.users.agent
        ),
    ),
    "amiable.contact.messaging.messages_cancel_pending": (
        "email.cancelled",
        lambda w: (
            w.queued_email(),
            messaging.messages_cancel_pending(case=w.contacted_case, actor=w.users.agent, reason="Dossier clos"),
        ),
    ),
    "amiable.payments.plans.plans_cancel_for_case": (
        "plan.cancelled",
        lambda w: (_plan(w), plans.plans_cancel_for_case(case=w.case, actor=w.users.supervisor, reason="Clos")),
    ),
    # scenarios
    "amiable.scenarios.defaults.scenario_ensure": (
        "scenario.created",
        lambda w: scenarios_defaults.scenario_ensure(creditor=w.reference.other),
    ),
    "amiable.scenarios.services.scenarios_run": (
        "scenario.step_run",
        lambda w: scenarios_services.scenarios_run(on=w.case.acknowledged_on),
    ),
    # reporting: a certificate clock late, told once
    "amiable.reporting.services_clocks.clock_notices_record": (
        "clocks.noticed",
        lambda w: services_clocks.clock_notices_record(clocks=[_late_clock(w)], day=NOW.date(), actor=None),
    ),
}


def test_the_walk_finds_the_service_modules():
    modules = service_modules()
    assert {"amiable.cases.services", "amiable.accounts.services_team", "amiable.notifications.services"} <= set(
        modules
    )
    assert set(WRITING_MODULES) <= set(modules)


def test_every_module_that_audits_is_covered():
    """A module that writes audit events is a service module, a listed writing module, or a known receiver."""
    covered = set(service_modules()) | set(AUDITING_NON_SERVICES)
    root = Path(amiable.__file__).resolve().parent
    auditing = set()
    for path in root.rglob("*.py"):
        if "migrations" in path.parts or "audit_record(" not in path.read_text(encoding="utf-8"):
            continue
        auditing.add("amiable." + ".".join(path.relative_to(root).with_suffix("").parts))
    assert sorted(auditing - covered) == []


def test_every_public_service_has_a_call_or_a_reason():
    assert set(SERVICE_CALLS) == set(audited_services()), (
        "A public service needs a call in SERVICE_CALLS, or a reason in NOT_AUDITED."
    )
    assert set(NOT_AUDITED) <= set(public_functions()), "NOT_AUDITED names a function that no longer exists."


@pytest.mark.parametrize("service", audited_services())
def test_every_public_service_leaves_an_audit_event(service, request, reference, users, case_factory):
    assert service in SERVICE_CALLS, f"{service} is a new public service: add a call to SERVICE_CALLS."
    verb, call = SERVICE_CALLS[service]
    with time_machine.travel(NOW, tick=True):
        world = World(request, reference, users, case_factory)
        before = AuditEvent.objects.filter(verb=verb).count()
        call(world)
        assert AuditEvent.objects.filter(verb=verb).count() > before, f"{service} wrote no « {verb} » event"
