"""Believable volume for the benchmarks (`manage.py seed_volume`): creditors and their structures, the agency's
and the creditors' staff, and N cases with their debtors, contact points, letters, calls, tasks, payments,
plans, requests and remittances, as the application would have left them after three years of work.

Fast: on PostgreSQL the cases and all that hangs on them are written set-based, one `INSERT … SELECT` per
table (`volume_sql.SqlVolume`), so that a million cases take minutes and almost no Python. On SQLite, used
for small runs only, the rows are built here in Python from one seeded random generator and written a chunk
at a time by `core.bulk.insert_rows` (multi-row INSERTs). Both give the same data for the same seed, each in
its own way, and both fold the search columns (`Debtor.search_name`, `ContactPoint.search_value`) with the
very functions the application uses.

What is left out, because no page reads it in bulk: the audit trail of the generated rows, receipts and
their PDFs, the e-mails and SMS of the outbox. Letters share one small stored PDF."""

import hashlib
import io
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from time import perf_counter

from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection, models, transaction
from django.utils import timezone

from amiable.accounts.models import Role, User
from amiable.accounts.services import user_create
from amiable.cases.models import (
    Action,
    Case,
    CaseStatus,
    Channel,
    ContactKind,
    ContactPoint,
    ContactQuality,
    Debtor,
    Task,
    TaskKind,
    TaskStatus,
)
from amiable.cases.search import contact_search_value, debtor_search_name
from amiable.contact.models import CallDirection, CallOutcome, CallRecord
from amiable.core.bulk import allocate_ids, insert_rows
from amiable.core.models import NumberSequence
from amiable.creditor_requests.models import CreditorRequest, RequestKind, RequestStatus
from amiable.creditors import reference_data
from amiable.creditors.models import ContractTerms, Creditor, Structure
from amiable.creditors.services import creditor_save, structure_save, terms_save
from amiable.ledger.models import EntryKind, LedgerAccount, LedgerEntry, LedgerLine
from amiable.letters.defaults import letter_templates_ensure
from amiable.letters.models import Letter, LetterKind, LetterTemplate
from amiable.payments.models import (
    Allocation,
    Component,
    Instalment,
    InstalmentStatus,
    Payment,
    PaymentMethod,
    PaymentSource,
    Plan,
    PlanRhythm,
    PlanStatus,
)
from amiable.remittances.models import Remittance, RemittanceLine, RemittanceStatus

CHUNK = 20_000
DOMAIN = "banc.example"
# The accounts the benchmark logs in with (password: settings.AMIABLE_DEMO_PASSWORD).
AGENCY_ADMIN_EMAIL = f"admin@{DOMAIN}"
SUPERVISOR_EMAIL = f"superviseur@{DOMAIN}"
AGENT_COUNT = 6


def agent_email(n: int) -> str:
    return f"agent{n}@{DOMAIN}"


def creditor_emails(slug: str) -> tuple[str, str]:
    """The unrestricted and the structure-limited account of a creditor."""
    return f"{slug}@{DOMAIN}", f"{slug}-structure@{DOMAIN}"


# Surnames and first names, weighted like real ones (a few common, many rare), accents and hyphens included.
def _names(text: str) -> tuple[str, ...]:
    """Words of a list; « _ » joins a compound name (« Le_Gall »)."""
    return tuple(word.replace("_", " ") for word in text.split())


LAST_NAMES = _names(
    "Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel Lefèvre Leroy "
    "Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent Müller "
    "Lefebvre Faure André Mercier Blanc Guérin Boyer Garnier Chevalier François Legrand Gauthier Garcia "
    "Perrin Robin Clément Morin Nicolas Henry Roussel Mathieu Gautier Masson Marchand Duval Denis Dumont "
    "Marie Lemaire Noël Meyer Dufour Meunier Brun Blanchard Giraud Joly Rivière Lucas Brunet Gaillard "
    "Barbier Arnaud Martínez Gérard Roche Renard Schmitt Roy Leroux Colin Vidal Caron Picard Roger Fabre "
    "Aubert Lemoine Renaud Dumas Lacroix Olivier Philippe Bourgeois Pierre Benoît Rey Leclerc Payet "
    "Rolland Leclercq Guillaume Lecomte López Jean Dupuy Guillot Hubert Berger Carpentier Sánchez Dupuis "
    "Moulin Louis Deschamps Huet Vasseur Perez Boucher Fleury Royer Klein Jacquet Adam Paris Poirier "
    "Marty Aubry Guyot Carré Charles Renault Charpentier Ménard Maillard Baron Bertin Bailly Hervé "
    "Schneider Fernández Le_Gall Collet Léger Bouvier Julien Prévost Millet Perrot Daniel Le_Roux Cousin "
    "Germain Breton Besson Langlois Rémy Le_Goff Pelletier Lévêque Perrier Leblanc Barré Lebrun Marchal "
    "Weber Mallet Hamon Boulanger Jacob Monnier Michaud Rodríguez Guichard Gillet Étienne Grondin "
    "Poulain Tessier Chevallier Collin Chauvin Da_Silva Bouchet Gay Lemaître Bénard Maréchal Humbert "
    "Reynaud Antoine Hoarau Perret Barthélémy Cordier Pichon Lejeune Gilbert Lamy Delaunay Pasquier "
    "Carlier Laporte Haddad Benali Nguyen Traoré Diallo Kaya Çelik Øberg Dœuvre Chênevert Côté Hébert "
    "Aubé Pâris"
)
FIRST_NAMES = _names(
    "Jean Marie Michel Nathalie Isabelle Philippe Sylvie Catherine Françoise Christine Hélène Pierre "
    "Sophie Valérie Nicolas Stéphane Christophe Sandrine Frédéric Céline Éric Laurent Véronique David "
    "Julien Camille Léa Chloé Zoé Inès Manon Anaïs Noémie Gaëlle Maëlle Lucas Hugo Louis Gabriel Raphaël "
    "Arthur Noé Maël Jérôme Sébastien Cédric Aurélie Émilie Mélanie Amélie Benoît Rémi Grégoire Clémence "
    "Agnès Thérèse Joël Anaëlle Yasmine Karim Mohamed Fatima Aïcha Moussa Awa Thi Minh Ana José Björn "
    "Žofie"
)
STREETS = (
    "rue de la République",
    "avenue Jean-Jaurès",
    "rue Victor-Hugo",
    "boulevard Voltaire",
    "rue de Ménilmontant",
    "rue du Faubourg-Saint-Antoine",
    "avenue de Flandre",
    "rue des Pyrénées",
    "rue Réaumur",
    "place de l'Église",
    "allée des Châtaigniers",
    "chemin des Prés",
    "impasse Gambetta",
    "quai de la Loire",
    "rue Édouard-Vaillant",
)
CITIES = (
    ("75011", "Paris"),
    ("75018", "Paris"),
    ("75019", "Paris"),
    ("75020", "Paris"),
    ("75013", "Paris"),
    ("93100", "Montreuil"),
    ("93200", "Saint-Denis"),
    ("94200", "Ivry-sur-Seine"),
    ("92110", "Clichy"),
    ("95100", "Argenteuil"),
    ("77100", "Meaux"),
    ("69003", "Lyon"),
    ("13001", "Marseille"),
    ("97400", "Saint-Denis"),
)
MAIL_DOMAINS = ("exemple.fr", "courriel.example", "boite.example", "mel.example")
BASES = ("Soins dentaires", "Consultation", "Prothèse dentaire", "Orthodontie", "Reste à charge", "Ticket modérateur")
# The other creditors, by rank (the CPAM is the first): name, city, postal code, number of structures.
OTHER_CREDITORS = (
    ("Centre hospitalier de Saint-Denis", "Saint-Denis", "93200", 4),
    ("Centre de santé municipal de Montreuil", "Montreuil", "93100", 2),
    ("Hôpital privé de l'Est parisien", "Paris", "75020", 3),
    ("Mutuelle des étudiants d'Île-de-France", "Paris", "75013", 1),
    ("Clinique Sainte-Thérèse", "Paris", "75017", 2),
)
# Ended cases, by weight: what three years of work leave.
ENDED = ((CaseStatus.PAID, 40), (CaseStatus.CLOSED, 25), (CaseStatus.IRRECOVERABLE, 20), (CaseStatus.RECALLED, 15))
OPEN = ((CaseStatus.IN_PROGRESS, 80), (CaseStatus.PAYMENT_PLAN, 12), (CaseStatus.SUSPENDED, 8))
TASK_KINDS = (TaskKind.CALL, TaskKind.CALLBACK, TaskKind.REVIEW, TaskKind.PLAN_FOLLOW_UP)
# How sure the agency is of a contact point, with weights.
QUALITIES = ((ContactQuality.VALID, 80), (ContactQuality.DOUBTFUL, 10), (ContactQuality.UNKNOWN, 10))
OUTCOMES = (
    (CallOutcome.NO_ANSWER, 35),
    (CallOutcome.MESSAGE_LEFT, 25),
    (CallOutcome.REACHED, 20),
    (CallOutcome.PROMISE, 10),
    (CallOutcome.WRONG_NUMBER, 5),
    (CallOutcome.REFUSED, 5),
)
METHODS = (PaymentMethod.TRANSFER, PaymentMethod.CARD, PaymentMethod.CHEQUE)
SEQUENCES = ("letter", "plan", "remittance")


@dataclass
class Summary:
    """What was written, for the command's report and the tests."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: float = 0.0


def _weighted(rng: random.Random, pairs):
    total = sum(weight for _, weight in pairs)
    pick = rng.random() * total
    for value, weight in pairs:
        pick -= weight
        if pick < 0:
            return value
    return pairs[-1][0]


def person_name(rng: random.Random) -> tuple[str, str, str]:
    """Civility, last name and first name. Zipf-like: the head of the list is common, its tail and invented
    names rare."""
    if rng.random() < 0.25:
        syllables = ("ber", "lan", "mé", "rou", "chè", "val", "don", "gui", "lé", "mar", "pé", "zin", "tho", "fa")
        last = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))).capitalize()
    else:
        last = LAST_NAMES[int(len(LAST_NAMES) * rng.random() ** 1.5)]
    if rng.random() < 0.05:
        last = f"{last}-{rng.choice(LAST_NAMES)}"
    first = rng.choice(FIRST_NAMES)
    civility = rng.choice(("M", "MME", "MME", "M", ""))
    return civility, last, first


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=UTC)


def _shared_pdf() -> tuple[str, str]:
    """One small stored PDF that every generated letter points to, and its SHA-256."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    content = buffer.getvalue()
    name = "volume/courrier-volume.pdf"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(content))
    return name, hashlib.sha256(content).hexdigest()


# Seconds spent writing each model's rows, for `seed_volume -v 2`.
SPENT: dict[str, float] = defaultdict(float)


def _insert(model, fields: list[str], rows: list[tuple]) -> None:
    """`insert_rows` with every column not named filled as the model would fill it (its default, NULL or an
    empty text), so that the generator names only what it decides."""
    if not rows:
        return
    named = {model._meta.get_field(name).name for name in fields}
    extra_fields, extra_values = [], []
    for f in model._meta.concrete_fields:
        if f.name in named or f.primary_key or f.generated:
            continue
        if f.has_default():
            value = f.get_default()
        elif f.null:
            value = None
        elif isinstance(f, models.CharField | models.TextField | models.FileField):
            value = ""
        else:
            raise ValueError(f"{model.__name__}.{f.name} : valeur requise")
        extra_fields.append(f.name)
        extra_values.append(value)
    if extra_fields:
        extra = tuple(extra_values)
        rows = [(*row, *extra) for row in rows]
    start = perf_counter()
    insert_rows(model, [*fields, *extra_fields], rows)
    SPENT[model.__name__] += perf_counter() - start


# The columns each bulk write fills, the same for the row-by-row (SQLite) and set-based (PostgreSQL) paths.
COLUMNS: dict[type, list[str]] = {
    Action: ["id", "case", "channel", "at", "actor", "summary"],
    Allocation: ["case", "component", "amount", "payment"],
    CallRecord: ["action", "direction", "number", "outcome", "notes", "first_letter"],
    Case: [
        "id",
        "reference",
        "creditor",
        "structure",
        "debtor",
        "initial_amount",
        "principal_amount",
        "interest_amount",
        "other_amount",
        "paid_amount",
        "claim_date",
        "basis",
        "received_on",
        "acknowledged_on",
        "certificate_due_on",
        "assigned_agent",
        "status",
        "status_changed_at",
        "recalled_at",
        "created_at",
    ],
    ContactPoint: [
        "debtor",
        "kind",
        "line1",
        "line2",
        "postal_code",
        "city",
        "country",
        "value",
        "raw_value",
        "quality",
        "source",
        "valid_from",
        "is_primary",
        "created_at",
        "search_value",
    ],
    Debtor: ["id", "civility", "last_name", "first_name", "birth_date", "do_not_contact", "created_at", "search_name"],
    Instalment: ["plan", "rank", "due_on", "amount", "paid_amount", "status"],
    Letter: [
        "id",
        "number",
        "case",
        "kind",
        "template",
        "first_letter",
        "issued_on",
        "issued_at",
        "issued_by",
        "address_lines",
        "amount",
        "pdf",
        "sha256",
        "printed_on",
        "action",
    ],
    LedgerEntry: ["id", "kind", "source", "posted_on", "memo", "created_at"],
    LedgerLine: ["entry", "account", "amount", "posted_on", "creditor", "structure", "case"],
    Plan: [
        "id",
        "number",
        "case",
        "status",
        "total",
        "rhythm",
        "months",
        "proposed_by",
        "proposed_at",
        "granted_at",
        "missed_count",
        "pdf",
        "sha256",
        "address_lines",
    ],
    # Remittances made and sent long ago (documents_at, emailed_at): the daily run must not make three years of
    # statements again. Their files are not generated (the volume measures reads and runs, not stored PDFs).
    Remittance: [
        "id",
        "number",
        "creditor",
        "structure",
        "period_start",
        "period_end",
        "total",
        "status",
        "created_at",
        "sent_at",
        "executed_on",
        "documents_at",
        "emailed_at",
    ],
    RemittanceLine: ["remittance", "payment", "amount"],
    Task: ["case", "kind", "status", "reason", "due_on", "created_at"],
}


def _siret(rank: int) -> str:
    """A made-up SIRET of 14 digits whose Luhn key holds, one per bench creditor."""
    body = f"9990{rank:09d}"
    for key in range(10):
        digits = [int(c) for c in body + str(key)]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(reversed(digits)))
        if total % 10 == 0:
            return body + str(key)
    raise AssertionError("unreachable: one key in ten holds")


class VolumeWriter:
    """Writes the volume; `run()` is the whole of it. One instance, one generator, one pass."""

    def __init__(self, *, cases: int, creditors: int, seed: int, progress: Callable[[str], None] | None = None):
        self.total = cases
        self.creditor_count = creditors
        self.seed = seed
        self.rng = random.Random(seed)
        self.progress = progress or (lambda text: None)
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.summary = Summary()
        # Payments per (structure, Monday of their week), remitted at the end.
        self.to_remit: dict[tuple[int, date], list[tuple[int, Decimal]]] = defaultdict(list)
        self.numbers: dict[tuple[str, int], int] = {}

    # --- reference data and people ---------------------------------------------------------------------
    def setup(self) -> None:
        call_command("seed_reference", stdout=io.StringIO())
        password = make_password(self._password())
        agency = self._agency_users()
        self.agents = agency["agents"]
        self.supervisor = agency["supervisor"]
        creditors = [Creditor.objects.get(slug=reference_data.CPAM["slug"])]
        for rank, (name, city, postal_code, structures) in enumerate(OTHER_CREDITORS[: self.creditor_count - 1]):
            creditors.append(self._creditor(rank + 1, name, city, postal_code, structures))
        self.creditors = []
        for creditor in creditors:
            if creditor.referent_id is None:
                creditor = creditor_save(slug=creditor.slug, actor=None, referent=self.supervisor)
            letter_templates_ensure(creditor=creditor)
            structures = list(Structure.objects.filter(creditor=creditor).order_by("code", "pk"))
            self._creditor_users(creditor, structures[0])
            templates = dict(LetterTemplate.objects.filter(creditor=creditor).values_list("kind", "pk"))
            self.creditors.append((creditor, structures, templates))
        User.objects.filter(email__endswith=f"@{DOMAIN}").update(password=password)
        # The CPAM holds about half of the cases, the others share the rest.
        others = len(self.creditors) - 1
        self.creditor_weights = (
            [(0, 50)] + [(i, 50 / others) for i in range(1, len(self.creditors))] if others else [(0, 1)]
        )
        self.requesters = {
            creditor.pk: User.objects.get(email=creditor_emails(creditor.slug)[0]) for creditor, _, _ in self.creditors
        }
        self.pdf_name, self.pdf_sha = _shared_pdf()
        for name, year, last in NumberSequence.objects.filter(name__in=SEQUENCES).values_list("name", "year", "last"):
            self.numbers[(name, year)] = last

    @staticmethod
    def _password() -> str:
        from django.conf import settings

        return settings.AMIABLE_DEMO_PASSWORD

    def _user(self, email: str, role: str, first: str, last: str, creditor=None, structures=()) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = user_create(
                email=email,
                password=None,
                role=role,
                actor=None,
                first_name=first,
                last_name=last,
                creditor=creditor,
                structures=structures,
            )
        return user

    def _agency_users(self) -> dict:
        self._user(AGENCY_ADMIN_EMAIL, Role.AGENCY_ADMIN, "Alice", "Durand")
        supervisor = self._user(SUPERVISOR_EMAIL, Role.SUPERVISOR, "Sophie", "Lefèvre")
        firsts = ("Camille", "Lucas", "Inès", "Théo", "Maëlle", "Noé", "Jeanne", "Hugo")
        lasts = ("Martin", "Bernard", "Fontaine", "Guérin", "Rivière", "Benoît", "Lemaître", "Roussel")
        agents = [self._user(agent_email(n + 1), Role.AGENT, firsts[n % 8], lasts[n % 8]) for n in range(AGENT_COUNT)]
        return {"agents": agents, "supervisor": supervisor}

    def _creditor(self, rank: int, name: str, city: str, postal_code: str, structures: int) -> Creditor:
        slug = f"banc-{rank}"
        creditor = Creditor.objects.filter(slug=slug).first()
        if creditor is None:
            creditor = creditor_save(
                slug=slug,
                actor=None,
                name=name,
                address_line1=f"{rank * 7}, rue de la Santé",
                postal_code=postal_code,
                city=city,
                contact_email=f"recouvrement@{slug}.example",
                transmission_email=f"lots@{slug}.example",
                siret=_siret(rank),  # a mandatory mention of the invoices the daily run issues
            )
        for n in range(structures):
            code = f"S{rank}{n + 1}"
            if not Structure.objects.filter(creditor=creditor, code=code).exists():
                structure_save(
                    creditor=creditor,
                    code=code,
                    actor=None,
                    name=f"{name} — site {n + 1}",
                    address_line1=f"{n + 1}, place de l'Hôpital",
                    postal_code=postal_code,
                    city=city,
                )
        if not ContractTerms.objects.filter(creditor=creditor).exists():
            terms_save(creditor=creditor, actor=None, **reference_data.DEFAULT_TERMS)
        return creditor

    def _creditor_users(self, creditor: Creditor, structure: Structure) -> None:
        full, limited = creditor_emails(creditor.slug)
        self._user(full, Role.CREDITOR_ADMIN, "Nadia", "Benali", creditor=creditor)
        self._user(limited, Role.CREDITOR_COLLABORATOR, "Karim", "Haddad", creditor=creditor, structures=[structure])

    # --- numbering -------------------------------------------------------------------------------------
    def _number(self, name: str, prefix: str, year: int) -> str:
        last = self.numbers.get((name, year), 0) + 1
        self.numbers[(name, year)] = last
        return f"{prefix}-{year}-{last:06d}"

    def _save_numbers(self) -> None:
        """The document sequences continue after the generated numbers, so later documents never collide."""
        for (name, year), last in self.numbers.items():
            NumberSequence.objects.update_or_create(name=name, year=year, defaults={"last": last})

    # --- the cases -------------------------------------------------------------------------------------
    def run(self) -> Summary:
        start = perf_counter()
        with transaction.atomic():
            self.setup()
        self.progress(f"Créanciers et comptes prêts en {perf_counter() - start:.1f} s")
        set_based = connection.vendor == "postgresql"
        if set_based:
            from amiable.ops.volume_sql import SqlVolume

            with transaction.atomic():
                SqlVolume(self, seed=self.seed).write()
        else:
            for first in range(0, self.total, CHUNK):
                with transaction.atomic():
                    self._chunk(min(CHUNK, self.total - first))
                done = first + min(CHUNK, self.total - first)
                self.progress(f"{done} dossiers écrits ({perf_counter() - start:.0f} s)")
        with transaction.atomic():
            if not set_based:
                self._remittances()
            self._requests()
            self._save_numbers()
        self.progress(f"Reversements et demandes écrits ({perf_counter() - start:.0f} s)")
        if set_based:
            with connection.cursor() as cursor:
                # The rows COPY left in the trigram indexes' pending lists (up to 4 MB each, read in full by every
                # search) go into the indexes, as autovacuum would do a while after a real import.
                cursor.execute(
                    "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'gin'"
                )
                cursor.execute("ANALYZE")
            self.progress(f"ANALYZE fait ({perf_counter() - start:.0f} s)")
        self.summary.seconds = perf_counter() - start
        return self.summary

    def _name(self) -> tuple[str, str, str]:
        return person_name(self.rng)

    def _chunk(self, count: int) -> None:
        rng, today = self.rng, self.today
        case_ids = allocate_ids(Case, count)
        debtor_rows, contact_rows, case_rows = [], [], []
        debtor_ids: list[int] = []
        addresses: dict[int, list[str]] = {}
        phones: dict[int, str] = {}
        new_debtors = [rng.random() >= 0.12 or not n for n in range(count)]
        ids = iter(allocate_ids(Debtor, sum(new_debtors)))
        worked = []  # (case id, status, received, claimed, paid, agent id, debtor id, creditor index, structure)
        for n, case_id in enumerate(case_ids):
            if new_debtors[n]:
                debtor_id = next(ids)
                debtor_ids.append(debtor_id)
                self._debtor(debtor_id, debtor_rows, contact_rows, addresses, phones)
            else:
                debtor_id = rng.choice(debtor_ids)
            index = _weighted(rng, self.creditor_weights)
            creditor, structures, _ = self.creditors[index]
            structure = rng.choice(structures)
            age = int(rng.random() ** 1.3 * 3 * 365)  # more recent cases than old ones
            received = today - timedelta(days=age)
            if age < 20:
                status = CaseStatus.NEW if rng.random() < 0.7 else CaseStatus.IN_PROGRESS
            elif rng.random() < 0.25 + 0.6 * age / 1095:
                status = _weighted(rng, ENDED)
            else:
                status = _weighted(rng, OPEN)
            principal = Decimal(max(1500, min(900_000, int(rng.lognormvariate(9.6, 0.9))))) / 100
            paid = Decimal("0.00")
            plan = self._plan(received, principal) if status == CaseStatus.PAYMENT_PLAN else None
            if plan is not None:
                paid = sum((r[3] for r in plan[2]), Decimal("0.00"))
            elif status == CaseStatus.PAID:
                paid = principal
            elif status in (CaseStatus.IN_PROGRESS, CaseStatus.CLOSED, CaseStatus.RECALLED) and rng.random() < 0.2:
                paid = (principal * Decimal(rng.randint(10, 80)) / 100).quantize(Decimal("0.01"))
            if status in CaseStatus.OPEN and rng.random() < 0.15:
                agent_id = None
            else:
                agent_id = self.agents[min(int(rng.expovariate(0.6)), len(self.agents) - 1)].pk
            changed = _at(received + timedelta(days=min(age, rng.randint(1, 400))))
            reference = f"{creditor.slug[:4].upper()}{received:%y}{case_id:08d}"
            case_rows.append(
                (
                    case_id,
                    reference,
                    creditor.pk,
                    structure.pk,
                    debtor_id,
                    principal,
                    principal,
                    Decimal("0.00"),
                    Decimal("0.00"),
                    paid,
                    received - timedelta(days=rng.randint(30, 400)),
                    rng.choice(BASES),
                    received,
                    received + timedelta(days=1),
                    received + timedelta(days=365) if status in CaseStatus.OPEN else None,
                    agent_id,
                    status,
                    changed,
                    changed if status == CaseStatus.RECALLED else None,
                    _at(received, 8),
                )
            )
            worked.append((case_id, status, received, principal, paid, agent_id, debtor_id, index, structure, plan))
        _insert(
            Debtor,
            COLUMNS[Debtor],
            debtor_rows,
        )
        _insert(
            ContactPoint,
            COLUMNS[ContactPoint],
            contact_rows,
        )
        _insert(
            Case,
            COLUMNS[Case],
            case_rows,
        )
        self.summary.counts["debtors"] += len(debtor_rows)
        self.summary.counts["contact_points"] += len(contact_rows)
        self.summary.counts["cases"] += len(case_rows)
        self._work(worked, addresses, phones)

    def _plan(self, received: date, claimed: Decimal) -> tuple[date, int, list[tuple]]:
        """A monthly plan granted some weeks after the case came: instalments summing to the claim, those due
        paid (nine in ten) or missed, the others to come."""
        rng, today = self.rng, self.today
        months = rng.randint(3, 10)
        granted = min(today, received + timedelta(days=rng.randint(20, max(21, (today - received).days - 1))))
        share = (claimed / months).quantize(Decimal("0.01"))
        amounts = [share] * (months - 1) + [claimed - share * (months - 1)]
        ranks = []
        for rank, amount in enumerate(amounts, start=1):
            due = granted + timedelta(days=30 * rank)
            if due <= today - timedelta(days=3) and rng.random() < 0.9:
                ranks.append((rank, due, amount, amount, InstalmentStatus.PAID))
            elif due <= today:
                ranks.append((rank, due, amount, Decimal("0.00"), InstalmentStatus.MISSED))
            else:
                ranks.append((rank, due, amount, Decimal("0.00"), InstalmentStatus.PENDING))
        return granted, months, ranks

    def _debtor(self, debtor_id, debtor_rows, contact_rows, addresses, phones) -> None:
        rng = self.rng
        civility, last, first = self._name()
        birth = date(1940, 1, 1) + timedelta(days=rng.randint(0, 60 * 365)) if rng.random() < 0.8 else None
        created = self.now
        debtor_rows.append(
            (
                debtor_id,
                civility,
                last,
                first,
                birth,
                rng.random() < 0.01,
                created,
                debtor_search_name(first_name=first, last_name=last),
            )
        )
        postal_code, city = rng.choice(CITIES)
        line1 = f"{rng.randint(1, 180)}, {rng.choice(STREETS)}"
        line2 = f"Bâtiment {rng.choice('ABCD')}, appartement {rng.randint(1, 60)}" if rng.random() < 0.2 else ""
        quality = _weighted(rng, QUALITIES)
        valid_from = self.today - timedelta(days=rng.randint(30, 2000))
        contact_rows.append(
            (
                debtor_id,
                ContactKind.ADDRESS,
                line1,
                line2,
                postal_code,
                city,
                "FR",
                "",
                "",
                quality,
                "Lot du créancier",
                valid_from,
                True,
                created,
                "",
            )
        )
        addresses[debtor_id] = [
            f"{civility} {last.upper()} {first}".strip(),
            line1,
            *([line2] if line2 else []),
            f"{postal_code} {city}",
        ]
        if rng.random() < 0.7:
            value = f"+33{rng.choice('67')}{rng.randint(0, 99_999_999):08d}"
            phones[debtor_id] = value
            contact_rows.append(
                (
                    debtor_id,
                    ContactKind.PHONE,
                    "",
                    "",
                    "",
                    "",
                    "FR",
                    value,
                    "0" + value[3:],
                    ContactQuality.VALID if rng.random() < 0.8 else ContactQuality.UNKNOWN,
                    "Lot du créancier",
                    valid_from,
                    True,
                    created,
                    contact_search_value(kind=ContactKind.PHONE, value=value),
                )
            )
        if rng.random() < 0.4:
            local = debtor_search_name(first_name=first, last_name=last).replace(" ", ".")
            value = f"{local}{rng.randint(1, 999)}@{rng.choice(MAIL_DOMAINS)}"
            contact_rows.append(
                (
                    debtor_id,
                    ContactKind.EMAIL,
                    "",
                    "",
                    "",
                    "",
                    "FR",
                    value,
                    value,
                    ContactQuality.VALID,
                    "Lot du créancier",
                    valid_from,
                    True,
                    created,
                    contact_search_value(kind=ContactKind.EMAIL, value=value),
                )
            )

    def _work(self, worked, addresses, phones) -> None:
        """Letters, calls, tasks, payments and plans of the chunk's cases."""
        rng, today = self.rng, self.today
        letters_needed = [w for w in worked if w[1] != CaseStatus.NEW]
        action_count = 0
        calls = []
        for w in letters_needed:
            age = (today - w[2]).days
            reminder = w[1] in CaseStatus.OPEN and age > 60 and rng.random() < 0.35
            ncalls = rng.choice((0, 0, 1, 1, 2, 3)) if w[6] in phones and w[5] else 0
            calls.append((reminder, ncalls))
            action_count += 1 + reminder + ncalls
        action_ids = iter(allocate_ids(Action, action_count))
        letter_ids = iter(allocate_ids(Letter, sum(1 + c[0] for c in calls)))
        actions, firsts, reminders, call_rows = [], [], [], []
        for w, (reminder, ncalls) in zip(letters_needed, calls, strict=True):
            case_id, status, received, claimed, paid, agent_id, debtor_id, index, *_ = w
            templates = self.creditors[index][2]
            on = received + timedelta(days=3)
            action_id, first_id = next(action_ids), next(letter_ids)
            actions.append((action_id, case_id, Channel.LETTER, _at(on, 9), None, "Première lettre"))
            firsts.append(
                (
                    first_id,
                    self._number("letter", "L", on.year),
                    case_id,
                    LetterKind.FIRST,
                    templates[LetterKind.FIRST],
                    None,
                    on,
                    _at(on, 9),
                    None,
                    addresses[debtor_id],
                    claimed,
                    self.pdf_name,
                    self.pdf_sha,
                    on + timedelta(days=1),
                    action_id,
                )
            )
            if reminder:
                later = on + timedelta(days=rng.randint(30, 50))
                action_id = next(action_ids)
                actions.append((action_id, case_id, Channel.LETTER, _at(later, 9), agent_id, "Lettre de relance"))
                reminders.append(
                    (
                        next(letter_ids),
                        self._number("letter", "L", later.year),
                        case_id,
                        LetterKind.REMINDER,
                        templates[LetterKind.REMINDER],
                        first_id,
                        later,
                        _at(later, 9),
                        agent_id,
                        addresses[debtor_id],
                        claimed - paid,
                        self.pdf_name,
                        self.pdf_sha,
                        later + timedelta(days=1),
                        action_id,
                    )
                )
            for _ in range(ncalls):
                day = min(today, on + timedelta(days=rng.randint(8, 300)))
                action_id = next(action_ids)
                outcome = _weighted(rng, OUTCOMES)
                actions.append(
                    (
                        action_id,
                        case_id,
                        Channel.CALL,
                        _at(day, rng.randint(10, 18)),
                        agent_id,
                        f"Appel : {outcome.label}",
                    )
                )
                call_rows.append((action_id, CallDirection.OUTBOUND, phones[debtor_id], outcome, "", None))
        _insert(Action, COLUMNS[Action], actions)
        _insert(Letter, COLUMNS[Letter], firsts + reminders)
        _insert(CallRecord, COLUMNS[CallRecord], call_rows)
        self.summary.counts["letters"] += len(firsts) + len(reminders)
        self.summary.counts["calls"] += len(call_rows)
        self._tasks(worked)
        self._payments(worked)

    def _tasks(self, worked) -> None:
        rng, today = self.rng, self.today
        rows = []
        for case_id, status, received, *_rest in worked:
            if status in (CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.PAYMENT_PLAN) and rng.random() < 0.2:
                kind = rng.choice(TASK_KINDS) if status == CaseStatus.PAYMENT_PLAN else rng.choice(TASK_KINDS[:3])
                due = today + timedelta(days=rng.randint(-15, 20))
                rows.append((case_id, kind, TaskStatus.OPEN, "", due, _at(max(received, due - timedelta(days=7)))))
        _insert(Task, COLUMNS[Task], rows)
        self.summary.counts["tasks"] += len(rows)

    def _payments(self, worked) -> None:
        """Payments as `payment_record` leaves them for an agency payment that does not overpay (payment,
        allocation to the principal, ledger entry with its two lines); plans with instalments."""
        rng, today = self.rng, self.today
        payments: list[tuple] = []  # (case, amount, on, creditor, structure)
        plans, plan_instalments = [], []
        for case_id, _status, received, claimed, paid, agent_id, _debtor, index, structure, plan in worked:
            creditor = self.creditors[index][0]
            if plan is not None:
                granted, months, ranks = plan
                plans.append((case_id, claimed, months, granted, agent_id or self.supervisor.pk))
                plan_instalments.append(ranks)
                payments.extend(
                    (case_id, r[3], r[1], creditor.pk, structure.pk) for r in ranks if r[4] == InstalmentStatus.PAID
                )
                continue
            if not paid:
                continue
            parts = 1 if paid < 60 else rng.randint(1, 3)
            cents = int(paid * 100)
            cuts = sorted(rng.sample(range(1, cents), parts - 1)) if parts > 1 else []
            bounds = [0, *cuts, cents]
            span = max(1, (today - received).days - 10)
            for a, b in zip(bounds, bounds[1:], strict=False):
                on = received + timedelta(days=min(span, rng.randint(10, 10 + span)))
                payments.append((case_id, Decimal(b - a) / 100, min(on, today), creditor.pk, structure.pk))
        self._write_payments(payments)
        self._write_plans(plans, plan_instalments)

    def _write_payments(self, payments) -> None:
        if not payments:
            return
        payment_ids = allocate_ids(Payment, len(payments))
        entry_ids = allocate_ids(LedgerEntry, len(payments))
        label = dict(PaymentMethod.choices)
        rows = {"payment": [], "allocation": [], "entry": [], "line": []}
        for (case_id, amount, on, creditor_id, structure_id), payment_id, entry_id in zip(
            payments, payment_ids, entry_ids, strict=True
        ):
            method = METHODS[payment_id % len(METHODS)]
            at = _at(on, 15)
            rows["payment"].append((payment_id, case_id, method, amount, on, "", "", PaymentSource.AGENT, at))
            rows["allocation"].append((case_id, Component.PRINCIPAL, amount, payment_id))
            rows["entry"].append(
                (entry_id, EntryKind.PAYMENT, f"payment:{payment_id}", on, f"{label[method]} — dossier {case_id}", at)
            )
            rows["line"].append((entry_id, LedgerAccount.BANK, amount, on, None, None, case_id))
            rows["line"].append(
                (entry_id, LedgerAccount.CREDITOR_FUNDS, -amount, on, creditor_id, structure_id, case_id)
            )
            self.to_remit[(structure_id, on - timedelta(days=on.weekday()))].append((payment_id, amount, creditor_id))
        _insert(
            Payment,
            ["id", "case", "method", "amount", "collected_on", "reference", "cash_reason", "source", "recorded_at"],
            rows["payment"],
        )
        _insert(Allocation, COLUMNS[Allocation], rows["allocation"])
        _insert(LedgerEntry, COLUMNS[LedgerEntry], rows["entry"])
        _insert(LedgerLine, COLUMNS[LedgerLine], rows["line"])
        self.summary.counts["payments"] += len(payments)

    def _write_plans(self, plans, plan_instalments) -> None:
        if not plans:
            return
        plan_ids = allocate_ids(Plan, len(plans))
        plan_rows, instalment_rows = [], []
        for (case_id, total, months, granted, by), plan_id, ranks in zip(
            plans, plan_ids, plan_instalments, strict=True
        ):
            missed = sum(1 for r in ranks if r[4] == InstalmentStatus.MISSED)
            plan_rows.append(
                (
                    plan_id,
                    self._number("plan", "PA", granted.year),
                    case_id,
                    PlanStatus.ACTIVE,
                    total,
                    PlanRhythm.MONTHLY,
                    months,
                    by,
                    _at(granted, 11),
                    _at(granted, 11),
                    missed,
                    "",
                    "",
                    [],
                )
            )
            instalment_rows.extend(
                (plan_id, rank, due, amount, paid, status) for rank, due, amount, paid, status in ranks
            )
        _insert(
            Plan,
            COLUMNS[Plan],
            plan_rows,
        )
        _insert(Instalment, COLUMNS[Instalment], instalment_rows)
        self.summary.counts["plans"] += len(plan_rows)

    # --- after the cases -------------------------------------------------------------------------------
    def _remittances(self) -> None:
        """Every complete week before the last one remitted, as `remittances_build` leaves it: one remittance
        per structure and week, a line per payment, the ledger entry moving the money out."""
        last_monday = self.today - timedelta(days=self.today.weekday()) - timedelta(days=7)
        # With --append, a week already remitted keeps its remittance: its new payments stay held.
        done = set(Remittance.objects.values_list("structure_id", "period_start"))
        weeks = sorted(key for key in self.to_remit if key[1] < last_monday and key not in done)
        if not weeks:
            return
        remittance_ids = allocate_ids(Remittance, len(weeks))
        entry_ids = allocate_ids(LedgerEntry, len(weeks))
        remittances, lines, entries, ledger_lines = [], [], [], []
        for (structure_id, monday), remittance_id, entry_id in zip(weeks, remittance_ids, entry_ids, strict=True):
            paid = self.to_remit[(structure_id, monday)]
            total = sum((amount for _, amount, _ in paid), Decimal("0.00"))
            creditor_id = paid[0][2]
            sent = monday + timedelta(days=8)
            number = self._number("remittance", "RV", sent.year)
            remittances.append(
                (
                    remittance_id,
                    number,
                    creditor_id,
                    structure_id,
                    monday,
                    monday + timedelta(days=6),
                    total,
                    RemittanceStatus.EXECUTED,
                    _at(sent, 7),
                    _at(sent, 8),
                    sent + timedelta(days=1),
                    _at(sent, 7),
                    _at(sent, 8),
                )
            )
            lines.extend((remittance_id, payment_id, amount) for payment_id, amount, _ in paid)
            entries.append(
                (
                    entry_id,
                    EntryKind.REMITTANCE,
                    f"remittance:{remittance_id}",
                    sent,
                    f"Reversement {number}",
                    _at(sent, 7),
                )
            )
            ledger_lines.append((entry_id, LedgerAccount.BANK, -total, sent, None, None, None))
            ledger_lines.append((entry_id, LedgerAccount.CREDITOR_FUNDS, total, sent, creditor_id, structure_id, None))
        _insert(
            Remittance,
            COLUMNS[Remittance],
            remittances,
        )
        _insert(RemittanceLine, COLUMNS[RemittanceLine], lines)
        # As `payments_mark_remitted` does for each remittance made by the application.
        Payment.objects.filter(remitted=False, remittance_line__isnull=False).update(remitted=True)
        _insert(LedgerEntry, COLUMNS[LedgerEntry], entries)
        _insert(LedgerLine, COLUMNS[LedgerLine], ledger_lines)
        self.summary.counts["remittances"] += len(remittances)

    def _requests(self) -> None:
        """A few requests per creditor on its open cases: some answered in time, some still open."""
        rng = self.rng
        rows = []
        for creditor, _structures, _templates in self.creditors:
            asker = self.requesters[creditor.pk]
            case_ids = list(
                Case.objects.filter(creditor=creditor, status=CaseStatus.IN_PROGRESS)
                .order_by("pk")
                .values_list("pk", flat=True)[:400]
            )
            for n, case_id in enumerate(case_ids[: max(3, min(40, self.total // 2000))]):
                kind = RequestKind.STATEMENT if n % 3 == 0 else RequestKind.QUESTION
                asked = self.now - timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 8))
                answered = n % 4 != 0 and asked < self.now - timedelta(days=2)
                rows.append(
                    (
                        creditor.pk,
                        case_id,
                        kind,
                        "Pouvez-vous nous indiquer où en est ce dossier ?",
                        asker.pk,
                        asked,
                        asked + timedelta(hours=48),
                        RequestStatus.ANSWERED if answered else RequestStatus.OPEN,
                        "Le débiteur a été joint ; un paiement est attendu." if answered else "",
                        "",
                        self.supervisor.pk if answered else None,
                        asked + timedelta(hours=20) if answered else None,
                    )
                )
        _insert(
            CreditorRequest,
            [
                "creditor",
                "case",
                "kind",
                "body",
                "asked_by",
                "asked_at",
                "due_at",
                "status",
                "answer",
                "answer_url",
                "answered_by",
                "answered_at",
            ],
            rows,
        )
        self.summary.counts["requests"] += len(rows)
