"""`manage.py seed_demo [--json]`: demo users for every role, a second creditor, about 175 cases, and a batch
received from the CPAM encrypted and signed with the demo keys of `amiable/ops/demo_data/`.

Idempotent: users, creditors, keys and cases that already exist are left as they are."""

import io
import json
import random
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from amiable.accounts.models import Role, User
from amiable.accounts.services import user_create
from amiable.cases.models import Case, CaseStatus, ContactKind, ContactQuality
from amiable.cases.services import (
    case_acknowledge,
    case_create,
    case_transition,
    contact_point_add,
    debtor_create,
)
from amiable.closure.models import DocumentReturn
from amiable.closure.services import case_declare_irrecoverable, document_return_mark
from amiable.creditors import reference_data
from amiable.creditors.models import ContractTerms, Creditor, Structure
from amiable.creditors.selectors import terms_for
from amiable.creditors.services import creditor_save, structure_save, terms_save
from amiable.payments.models import Payment, PaymentMethod
from amiable.payments.services import payment_record

DEMO_DATA = Path(__file__).resolve().parents[2] / "demo_data"
DEMO_BATCH = DEMO_DATA / "lot-demo-cpam.csv.gpg"

SECOND_CREDITOR = {
    "slug": "csm-montreuil",
    "name": "Centre de santé municipal de Montreuil",
    "address_line1": "2, place Jean Jaurès",
    "postal_code": "93100",
    "city": "Montreuil",
    "siret": "26930001800018",
    "contact_email": "contentieux@csm-montreuil.example",
    "transmission_email": "lots@csm-montreuil.example",
}
SECOND_STRUCTURE = {
    "code": "CSM",
    "name": "Centre de santé municipal Voltaire",
    "address_line1": "34, rue Voltaire",
    "postal_code": "93100",
    "city": "Montreuil",
}

# Demo bank details of the structures (IBAN, BIC) for their remittances: valid checksums, no real account.
DEMO_STRUCTURE_BANKING = [
    ("FR7610107001011234567890129", "BREDFRPPXXX"),
    ("FR7630001007941234567890185", "BDFEFRPPCCT"),
    ("FR6214505000010412345678931", "CEPAFRPP313"),
    ("FR7917515900000812345678981", "CEPAFRPP751"),
]

# (email, first name, last name, role, creditor slug or None, structure codes it is limited to)
DEMO_USERS = [
    ("admin@amiable.example", "Alice", "Durand", Role.AGENCY_ADMIN, None, ()),
    ("referent@amiable.example", "Sophie", "Lefèvre", Role.SUPERVISOR, None, ()),
    ("agent@amiable.example", "Camille", "Martin", Role.AGENT, None, ()),
    ("agent2@amiable.example", "Lucas", "Bernard", Role.AGENT, None, ()),
    ("admin@cpam-paris.example", "Nadia", "Benali", Role.CREDITOR_ADMIN, "cpam-paris", ()),
    ("valideur@cpam-paris.example", "Marc", "Rousseau", Role.CREDITOR_APPROVER, "cpam-paris", ()),
    ("collaborateur@cpam-paris.example", "Julie", "Petit", Role.CREDITOR_COLLABORATOR, "cpam-paris", ()),
    ("csr@cpam-paris.example", "Karim", "Haddad", Role.CREDITOR_COLLABORATOR, "cpam-paris", ("CSR",)),
    ("admin@csm-montreuil.example", "Hélène", "Moreau", Role.CREDITOR_ADMIN, "csm-montreuil", ()),
    ("collaborateur@csm-montreuil.example", "Paul", "Garnier", Role.CREDITOR_COLLABORATOR, "csm-montreuil", ()),
]

LAST_NAMES = [
    "Dupont",
    "Moreau",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Lefebvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guerin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "N'Diaye",
    "Nguyen",
    "Da Silva",
    "Benhamou",
    "Traoré",
    "Kowalski",
    "Le Gall",
    "Ferreira",
    "Haddad",
    "Diallo",
    "Martinez",
    "Colin",
]
FIRST_NAMES_F = ["Marie", "Nathalie", "Isabelle", "Sylvie", "Aïcha", "Léa", "Chloé", "Inès", "Fatou", "Manon"]
FIRST_NAMES_M = ["Jean", "Pierre", "Michel", "Karim", "Thomas", "Nicolas", "Mamadou", "Hugo", "Yann", "Éric"]
STREETS = [
    "rue de la Roquette",
    "boulevard Voltaire",
    "rue Oberkampf",
    "avenue Parmentier",
    "rue du Faubourg Saint-Denis",
    "rue de Belleville",
    "rue des Pyrénées",
    "avenue de Flandre",
    "rue de Charonne",
    "rue Saint-Maur",
]
BASES = [
    "Soins dentaires non pris en charge",
    "Reste à charge — consultation",
    "Prothèse dentaire — part patient",
    "Franchise et participations forfaitaires",
    "Examen de santé — frais non couverts",
]
# The reasons and evidence of the demo's certificates of irrecoverability.
DEMO_IRRECOVERABLE = [
    (
        "untraceable",
        "Adresse revenue « n'habite pas à l'adresse indiquée » ; recherches (annuaires, employeur) sans résultat.",
    ),
    ("insolvency", "Ressources limitées aux minima sociaux, déclarées par le débiteur et confirmées par écrit."),
    ("deceased", "Acte de décès transmis par la famille ; succession sans actif."),
]
# Target status of the demo cases and how many in each, in order of creation.
STATUS_PLAN = [
    (CaseStatus.NEW, 40),
    (CaseStatus.IN_PROGRESS, 80),
    # No case is put on a payment plan here: the plans of the demo are real ones (`_plans`).
    (CaseStatus.SUSPENDED, 10),
    (CaseStatus.PAID, 20),
    (CaseStatus.RECALLED, 8),
    (CaseStatus.IRRECOVERABLE, 10),
    (CaseStatus.CLOSED, 7),
]
PATHS = {
    CaseStatus.NEW: [],
    CaseStatus.IN_PROGRESS: [CaseStatus.IN_PROGRESS],
    CaseStatus.SUSPENDED: [CaseStatus.IN_PROGRESS, CaseStatus.SUSPENDED],
    CaseStatus.PAID: [CaseStatus.IN_PROGRESS, CaseStatus.PAID],
    CaseStatus.RECALLED: [CaseStatus.IN_PROGRESS, CaseStatus.RECALLED],
    CaseStatus.IRRECOVERABLE: [CaseStatus.IN_PROGRESS, CaseStatus.IRRECOVERABLE],
    CaseStatus.CLOSED: [CaseStatus.IN_PROGRESS, CaseStatus.PAID, CaseStatus.CLOSED],
}


class Command(BaseCommand):
    help = "Charge les données de démonstration (idempotent) ; --json affiche les comptes de démonstration."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Affiche seulement les comptes, en JSON.")

    def handle(self, *args, **options):
        as_json = options["json"]
        call_command("seed_reference", stdout=self.stderr if as_json else self.stdout)
        with transaction.atomic():
            second = self._second_creditor()
            users = self._users()
            cpam = Creditor.objects.get(slug=reference_data.CPAM["slug"])
            if cpam.referent_id is None:
                creditor_save(slug=cpam.slug, actor=None, referent=users["referent@amiable.example"])
            if second.referent_id is None:
                creditor_save(slug=second.slug, actor=None, referent=users["referent@amiable.example"])
            agents = [users["agent@amiable.example"], users["agent2@amiable.example"]]
            created = self._cases(cpam, second, agents, users["agent@amiable.example"])
        self._batch(cpam, users["admin@cpam-paris.example"])
        self._collaboration(cpam, users)
        from amiable.letters.defaults import letter_templates_ensure
        from amiable.scenarios.defaults import scenario_ensure

        for creditor in (cpam, second):
            letter_templates_ensure(creditor=creditor)
            scenario_ensure(creditor=creditor)
        self._first_letters(cpam, users["agent@amiable.example"])
        self._partial_payments(cpam, users["agent@amiable.example"])
        self._plans(cpam, users)
        self._day(cpam, users)
        self._money_out(cpam, second, users["admin@amiable.example"])
        self._contract_follow_up(cpam, second, users)
        accounts = [
            {
                "email": email,
                "password": settings.AMIABLE_DEMO_PASSWORD,
                "role": role.value,
                "creditor": slug,
            }
            for email, _first, _last, role, slug, _codes in DEMO_USERS
        ]
        if as_json:
            self.stdout.write(json.dumps(accounts, ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"Démonstration : {created} dossier(s) créé(s), {Case.objects.count()} au total.")
        self.stdout.write(f"Comptes de démonstration (mot de passe : {settings.AMIABLE_DEMO_PASSWORD}) :")
        for account in accounts:
            scope = f" — {account['creditor']}" if account["creditor"] else ""
            self.stdout.write(f"  {account['email']:<40} {Role(account['role']).label}{scope}")

    def _first_letters(self, cpam: Creditor, agent: User, count: int = 3) -> None:
        """A few first letters of the demo agent's CPAM cases, to show what a debtor receives (idempotent: only
        while fewer than `count` first letters exist)."""
        from amiable.cases.models import CaseStatus
        from amiable.core.exceptions import ApplicationError
        from amiable.letters.models import Letter, LetterKind
        from amiable.letters.services import letter_issue

        missing = count - Letter.objects.filter(case__creditor=cpam, kind=LetterKind.FIRST).count()
        if missing <= 0:
            return
        # Cases already in progress (the status plan of the demo stays as it is), of the demo agent.
        cases = Case.objects.filter(
            creditor=cpam, status=CaseStatus.IN_PROGRESS, assigned_agent=agent, letters__isnull=True
        )
        for case in cases.order_by("pk")[: missing * 3]:
            try:
                letter_issue(case=case, kind=LetterKind.FIRST, actor=agent)
            except ApplicationError:
                continue  # a demo debtor without a valid address, or who asked not to be contacted
            missing -= 1
            if missing == 0:
                return

    def _partial_payments(self, cpam: Creditor, agent: User, count: int = 12) -> None:
        """Part payments on some CPAM cases in progress, of each method but cash, so that the dashboards and
        the claims report show amounts recovered (idempotent: only when no case in progress has any)."""
        in_progress = Case.objects.filter(creditor=cpam, status=CaseStatus.IN_PROGRESS).order_by("pk")
        if Payment.objects.filter(case__in=in_progress).exists():
            return
        today = timezone.localdate()
        methods = [PaymentMethod.TRANSFER, PaymentMethod.CHEQUE, PaymentMethod.CARD, PaymentMethod.DIRECT]
        for n, case in enumerate(in_progress[: count * 2 : 2]):
            payment_record(
                case=case,
                amount=(case.balance * Decimal("0.3")).quantize(Decimal("0.01")),
                collected_on=min(case.received_on + timedelta(days=20 + n), today),
                method=methods[n % len(methods)],
                reference=f"Démonstration {n + 1}",
                actor=agent,
            )

    def _money_out(self, cpam: Creditor, second: Creditor, admin: User) -> None:
        """The structures' bank and invoicing details (demo values), then the remittances of the last three
        weeks and the invoices of the last two months, made by the same runs as in production: the creditor
        downloads them in its portal. Idempotent: each run makes only what is missing. The older remittances
        are executed and the older invoices paid, by hand, so that every state shows."""
        from amiable.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
        from amiable.invoicing.services import invoices_build
        from amiable.invoicing.settlement import invoice_mark_paid
        from amiable.remittances.execution import remittance_mark_executed
        from amiable.remittances.models import Remittance, RemittanceStatus
        from amiable.remittances.services import remittances_build

        for n, structure in enumerate(Structure.objects.filter(creditor__in=[cpam, second]).order_by("pk")):
            if structure.remittance_iban:
                continue
            details = DEMO_STRUCTURE_BANKING[n % len(DEMO_STRUCTURE_BANKING)]
            structure.remittance_iban, structure.remittance_bic = details
            structure.finance_email = f"finances-{structure.code.lower()}@{structure.creditor.slug}.example"
            structure.legal_commitment_number = structure.legal_commitment_number or f"EJ-2026-{4100 + n}"
            structure.service_code = structure.service_code or f"SERV-{structure.code}"
            structure.save()
        today = timezone.localdate()
        for weeks_ago in (2, 1, 0):
            remittances_build(week_of=today - timedelta(days=7 * weeks_ago), actor=None)
        first_of_month = today.replace(day=1)
        for months_ago in (2, 1):
            month = first_of_month
            for _ in range(months_ago - 1):
                month = (month - timedelta(days=1)).replace(day=1)
            invoices_build(month=month - timedelta(days=1), actor=None)
        last_week = today - timedelta(days=today.weekday() + 7)
        for remittance in Remittance.objects.filter(status=RemittanceStatus.SENT, period_start__lt=last_week):
            remittance_mark_executed(remittance=remittance, executed_on=today, actor=admin)
        oldest = Invoice.objects.order_by("period_start").values_list("period_start", flat=True).first()
        for invoice in Invoice.objects.filter(
            kind=InvoiceKind.INVOICE, status=InvoiceStatus.SENT, period_start=oldest, paid_on__isnull=True
        ):
            invoice_mark_paid(invoice=invoice, paid_on=today, actor=admin)

    def _contract_follow_up(self, cpam: Creditor, second: Creditor, users: dict[str, User]) -> None:
        """The contract's start (eleven months ago), then what the daily run makes of it: the workbook of the
        last quarter, the dashboards' figures, the follow-up meetings (those already past held, with their pack
        and minutes) and the clocks. Idempotent: each run makes only what is missing."""
        from amiable.reporting.models import FollowUpMeeting
        from amiable.reporting.services_meetings import meeting_minutes_save, meeting_pack_build

        today = timezone.localdate()
        for creditor in (cpam, second):
            if creditor.terms.contract_start is None:
                start = (today - timedelta(days=330)).replace(day=1)
                terms_save(creditor=creditor, actor=None, contract_start=start)
        quiet = io.StringIO()
        call_command("build_quarterly_report", stdout=quiet)
        call_command("refresh_statistics", stdout=quiet)
        call_command("check_meetings", stdout=quiet)
        supervisor = users["referent@amiable.example"]
        for meeting in FollowUpMeeting.objects.filter(creditor=cpam, due_on__lt=today, held_on__isnull=True):
            if not meeting.pack_pdf:
                meeting_pack_build(meeting=meeting, actor=None, today=meeting.due_on - timedelta(days=7))
            meeting_minutes_save(
                meeting=meeting,
                held_on=meeting.due_on,
                minutes="Point sur les dossiers confiés, les reversements et les certificats à venir ; "
                "prochaine réunion au semestre.",
                actor=supervisor,
            )
        call_command("check_deadlines", stdout=quiet)

    def _plans(self, cpam: Creditor, users: dict[str, User]) -> None:
        """Two payment plans of CPAM cases whose first letter is out: a 4-month plan the agency grants, and a
        10-month plan, beyond the contract's 6 months, that the CPAM's approver accepts (idempotent: only while
        no plan exists)."""
        from amiable.approvals.services import approval_decide
        from amiable.core.exceptions import ApplicationError
        from amiable.letters.models import LetterKind
        from amiable.payments.models import Plan, PlanRhythm
        from amiable.payments.plans import plan_propose

        if Plan.objects.exists():
            return
        agent = users["agent@amiable.example"]
        cases = (
            Case.objects.filter(
                creditor=cpam, status=CaseStatus.IN_PROGRESS, letters__kind=LetterKind.FIRST, balance__gt=0
            )
            .distinct()
            .order_by("pk")
        )
        first_due_on = timezone.localdate() + timedelta(days=7)
        try:
            short, long = list(cases[:2])
            plan_propose(case=short, rhythm=PlanRhythm.MONTHLY, count=4, first_due_on=first_due_on, actor=agent)
            plan = plan_propose(case=long, rhythm=PlanRhythm.MONTHLY, count=10, first_due_on=first_due_on, actor=agent)
            approval_decide(
                approval=plan.approval,
                accept=True,
                comment="Accord pour dix mensualités.",
                actor=users["valideur@cpam-paris.example"],
            )
        except (ValueError, ApplicationError) as exc:  # fewer than two first letters out: the rest still loads
            self.stderr.write(f"Plans de démonstration non créés : {getattr(exc, 'message', exc)}")

    def _day(self, cpam: Creditor, users: dict[str, User]) -> None:
        """What makes the demo agents' « Ma journée » a real morning, made once (idempotent: not again once the
        demo's questions exist): the day's scenario run on a few of their cases still without a first letter
        (where no valid address is known it opens an address investigation) and on two cases no agent
        holds yet (« Non attribués »), a promise to pay made on an
        inbound call a week ago and found broken by the daily check (a callback task), a question of the
        creditor with its clock and a message of the creditor not answered yet, on each agent's cases."""
        from amiable.cases.models import ContactPoint
        from amiable.cases.services import comment_add
        from amiable.contact.models import CallDirection, CallOutcome
        from amiable.contact.services import call_record, promises_check
        from amiable.core.exceptions import ApplicationError
        from amiable.creditor_requests.models import CreditorRequest, RequestKind
        from amiable.creditor_requests.services import request_create
        from amiable.scenarios.services import scenarios_run

        if CreditorRequest.objects.filter(kind=RequestKind.QUESTION).exists():
            return
        collaborator = users["collaborateur@cpam-paris.example"]
        today = timezone.localdate()
        with_address = set(
            ContactPoint.objects.filter(kind=ContactKind.ADDRESS, quality=ContactQuality.VALID).values_list(
                "debtor_id", flat=True
            )
        )
        # The outcome that goes with a promise: « promesse de paiement » where the calls have it.
        promise_outcome = CallOutcome.PROMISE
        for n, email in enumerate(["agent@amiable.example", "agent2@amiable.example"]):
            agent = users[email]
            cases = list(
                Case.objects.filter(
                    creditor=cpam,
                    status=CaseStatus.IN_PROGRESS,
                    assigned_agent=agent,
                    letters__isnull=True,
                    comments__isnull=True,
                    balance__gt=0,
                )
                .distinct()
                .order_by("-pk")[:8]
            )
            if len(cases) < 8:
                continue
            promised, asked, written, *scenario = cases
            scenarios_run(on=today, case_ids=[c.pk for c in scenario if c.debtor_id not in with_address])
            try:
                call_record(
                    case=promised,
                    actor=agent,
                    number="+33612345678",
                    outcome=promise_outcome,
                    direction=CallDirection.INBOUND,
                    notes="Le débiteur a rappelé après la première lettre.",
                    promise_amount=(promised.balance / 2).quantize(Decimal("0.01")),
                    promise_due_on=today - timedelta(days=3 + n),
                    at=timezone.now() - timedelta(days=7),
                )
            except ApplicationError as exc:
                self.stderr.write(f"Promesse de démonstration non créée : {exc.message}")
            request_create(
                kind=RequestKind.QUESTION,
                body="Le débiteur nous indique être au RSA : pouvez-vous nous confirmer sa situation ?",
                actor=collaborator,
                case=asked,
            )
            comment_add(
                case=written,
                author=collaborator,
                body="Le débiteur s'est présenté au centre et demande un échéancier : pouvez-vous le rappeler ?",
            )
        # Two cases no agent holds yet: their address investigations wait in « Non attribués ».
        unassigned = Case.objects.filter(
            creditor=cpam, status=CaseStatus.NEW, assigned_agent__isnull=True, letters__isnull=True
        ).exclude(debtor_id__in=with_address)
        scenarios_run(on=today, case_ids=list(unassigned.order_by("pk").values_list("pk", flat=True)[:2]))
        promises_check(today=today)

    def _collaboration(self, cpam: Creditor, users: dict[str, User]) -> None:
        """Messages, a decision awaited and requests with their clocks, to show the portal at work."""
        from datetime import datetime, time

        from amiable.approvals.services import approval_request
        from amiable.cases.models import Comment
        from amiable.cases.services import comment_add
        from amiable.creditor_requests.services import meeting_propose, request_create

        if Comment.objects.exists():
            return
        agent = users["agent@amiable.example"]
        collaborator = users["collaborateur@cpam-paris.example"]
        cases = list(
            Case.objects.filter(creditor=cpam, status=CaseStatus.IN_PROGRESS, assigned_agent=agent).order_by("pk")[:3]
        )
        if len(cases) < 3:
            return
        first, second, third = cases
        comment_add(
            case=first, author=collaborator, body="Le débiteur a appelé le centre : il conteste le reste à charge."
        )
        comment_add(case=first, author=agent, body="Merci, nous le rappelons et vous tenons informés.")
        comment_add(case=first, author=agent, body="Rappel prévu jeudi après 14 h.", internal=True)
        approval_request(
            case=second,
            kind="court_action",
            proposal="Trois relances et deux appels sans réponse ; nous proposons une injonction de payer.",
            actor=agent,
        )
        request_create(kind="statement", body="Pour la commission de recours amiable.", actor=collaborator, case=third)
        meeting = request_create(kind="meeting", body="Point trimestriel sur les dossiers du CDOP.", actor=collaborator)
        tomorrow = timezone.localdate() + timedelta(days=1)
        slots = [
            timezone.make_aware(datetime.combine(tomorrow, time(10, 0))),
            timezone.make_aware(datetime.combine(tomorrow, time(15, 0))),
        ]
        meeting_propose(request=meeting, slots=slots, actor=users["referent@amiable.example"])

    def _batch(self, cpam: Creditor, actor: User) -> None:
        """One batch received through the intake, encrypted and signed as the CPAM's contract asks (C5), with
        its acknowledgement, to show the whole flow."""
        from amiable.core.exceptions import ApplicationError
        from amiable.intake.models import Batch, BatchSource
        from amiable.intake.services import batch_import

        try:
            self._keys(cpam)
        except ApplicationError as exc:  # no gpg on this machine: the rest of the demo still loads
            self.stderr.write(f"Lot de démonstration non importé : {exc.message}")
            return
        if Batch.objects.filter(creditor=cpam).exists():
            return
        outcome = batch_import(
            creditor=cpam,
            content=DEMO_BATCH.read_bytes(),
            filename=DEMO_BATCH.name,
            source=BatchSource.CREDITOR_UPLOAD,
            actor=actor,
        )
        if outcome.status == "accepted":
            self.stderr.write(
                f"Lot de démonstration {outcome.batch.number} (chiffré et signé) : "
                f"{outcome.accepted} créances prises en charge."
            )
        else:
            self.stderr.write(f"Lot de démonstration non importé : {outcome.error}")

    def _keys(self, cpam: Creditor) -> None:
        """The agency's demo key into the GnuPG home (it decrypts the demo batch) and the CPAM's demo signing
        key registered for the CPAM, unless the CPAM already has a key."""
        from amiable.intake import crypto
        from amiable.intake.models import CreditorKey

        crypto.agency_key_import((DEMO_DATA / "agency-test-secret.asc").read_bytes(), actor=None)
        if not CreditorKey.objects.filter(creditor=cpam).exists():
            armored = (DEMO_DATA / "creditor-test-public.asc").read_text()
            crypto.register_creditor_key(creditor=cpam, armored=armored, actor=None)

    def _second_creditor(self) -> Creditor:
        creditor = Creditor.objects.filter(slug=SECOND_CREDITOR["slug"]).first()
        if creditor is None:
            values = {k: v for k, v in SECOND_CREDITOR.items() if k != "slug"}
            creditor = creditor_save(slug=SECOND_CREDITOR["slug"], actor=None, **values)
        if not Structure.objects.filter(creditor=creditor, code=SECOND_STRUCTURE["code"]).exists():
            fields = {k: v for k, v in SECOND_STRUCTURE.items() if k != "code"}
            structure_save(creditor=creditor, code=SECOND_STRUCTURE["code"], actor=None, **fields)
        if not ContractTerms.objects.filter(creditor=creditor).exists():
            terms_save(
                creditor=creditor, actor=None, **{**reference_data.DEFAULT_TERMS, "commission_rate": Decimal("12.50")}
            )
        return creditor

    def _users(self) -> dict[str, User]:
        users = {}
        for email, first, last, role, slug, codes in DEMO_USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                creditor = Creditor.objects.get(slug=slug) if slug else None
                structures = Structure.objects.filter(creditor=creditor, code__in=codes) if codes else []
                user = user_create(
                    email=email,
                    password=settings.AMIABLE_DEMO_PASSWORD,
                    role=role,
                    actor=None,
                    first_name=first,
                    last_name=last,
                    creditor=creditor,
                    structures=structures,
                )
            users[email] = user
        return users

    def _cases(self, cpam: Creditor, second: Creditor, agents: list[User], actor: User) -> int:
        rng = random.Random(2026)  # the same demo on every machine
        today = timezone.localdate()
        cpam_structures = list(Structure.objects.filter(creditor=cpam).order_by("code"))
        second_structures = list(Structure.objects.filter(creditor=second).order_by("code"))
        terms = {creditor.pk: terms_for(creditor) for creditor in (cpam, second)}
        existing = set(Case.objects.filter(creditor__in=[cpam, second]).values_list("creditor_id", "reference"))
        supervisor = User.objects.get(email="referent@amiable.example")
        created = 0
        number = 0
        for status, count in STATUS_PLAN:
            for _ in range(count):
                number += 1
                on_second = number % 7 == 0
                creditor = second if on_second else cpam
                structure = rng.choice(second_structures if on_second else cpam_structures)
                reference = f"{'CSM' if on_second else 'CPAM'}-{2026 - (number % 2)}-{number:05d}"
                # Draw every random value even for existing cases, so the sequence stays the same.
                female = rng.random() < 0.5
                first = rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M)
                last = rng.choice(LAST_NAMES)
                principal = Decimal(rng.randint(1500, 60000)) / 100
                other = Decimal(rng.choice([0, 0, 0, 500, 1000])) / 100
                received = today - timedelta(days=rng.randint(1, 330))
                street_no = rng.randint(1, 180)
                street = rng.choice(STREETS)
                arrondissement = rng.randint(1, 20)
                has_phone = rng.random() < 0.7
                has_email = rng.random() < 0.5
                address_quality = rng.choice(
                    [ContactQuality.VALID] * 6 + [ContactQuality.UNKNOWN] * 2 + [ContactQuality.DOUBTFUL]
                )
                phone_digits = rng.randint(10000000, 99999999)
                agent = rng.choice(agents) if status != CaseStatus.NEW else None
                basis = rng.choice(BASES)
                if (creditor.pk, reference) in existing:
                    continue
                debtor = debtor_create(civility="MME" if female else "M", last_name=last, first_name=first, actor=actor)
                contact_point_add(
                    debtor=debtor,
                    kind=ContactKind.ADDRESS,
                    source="Fichier du créancier",
                    actor=actor,
                    quality=address_quality,
                    line1=f"{street_no} {street}",
                    postal_code=f"750{arrondissement:02d}",
                    city="Paris",
                    valid_from=received,
                    is_primary=True,
                )
                if has_phone:
                    contact_point_add(
                        debtor=debtor,
                        kind=ContactKind.PHONE,
                        source="Fichier du créancier",
                        actor=actor,
                        quality=ContactQuality.UNKNOWN,
                        value=f"+336{phone_digits}",
                        valid_from=received,
                    )
                if has_email:
                    contact_point_add(
                        debtor=debtor,
                        kind=ContactKind.EMAIL,
                        source="Fichier du créancier",
                        actor=actor,
                        quality=ContactQuality.UNKNOWN,
                        value=f"{first.lower()}.{last.lower()}@exemple.fr".replace(" ", "").replace("'", ""),
                        valid_from=received,
                    )
                case = case_create(
                    creditor=creditor,
                    structure=structure,
                    debtor=debtor,
                    reference=reference,
                    principal_amount=principal,
                    other_amount=other,
                    claim_date=received - timedelta(days=rng.randint(30, 400)),
                    basis=basis,
                    received_on=received,
                    assigned_agent=agent,
                    actor=actor,
                )
                case_acknowledge(
                    case=case,
                    acknowledged_on=received,
                    certificate_months=terms[creditor.pk].certificate_months,
                    actor=actor,
                )
                for step in PATHS[status]:
                    if step == CaseStatus.PAID:
                        # Paid in full by a transfer: the payment makes the case « Soldé » by itself.
                        payment_record(
                            case=case,
                            amount=case.balance,
                            collected_on=min(received + timedelta(days=10 + number % 50), today),
                            method=PaymentMethod.TRANSFER,
                            reference=f"VIR {reference}",
                            actor=agent or actor,
                        )
                        continue
                    if step == CaseStatus.IRRECOVERABLE:
                        # Declared by the supervisor, with its certificate that the creditor downloads.
                        reason, evidence = DEMO_IRRECOVERABLE[number % len(DEMO_IRRECOVERABLE)]
                        case_declare_irrecoverable(case=case, reason=reason, evidence=evidence, actor=supervisor)
                        continue
                    if step == CaseStatus.CLOSED:
                        # Closed when the creditor's documents are given back (C25).
                        document_return_mark(
                            document_return=DocumentReturn.objects.get(case=case),
                            returned_on=today,
                            actor=agent or actor,
                        )
                        continue
                    case = case_transition(case=case, to=step, actor=agent or actor, reason="Données de démonstration")
                created += 1
        return created
