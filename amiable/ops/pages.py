"""What `bench_pages` measures: the pages an agency or creditor person opens most, each for the role that opens
it, on a database filled by `seed_volume`. The plan is read from the database (which agent, which case,
which phone), so that the benchmark and its test exercise the same pages."""

import statistics
from dataclasses import dataclass
from time import perf_counter
from urllib.parse import urlencode

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from amiable.accounts.models import User
from amiable.cases.models import Case, CaseStatus, ContactKind, ContactPoint
from amiable.creditors import reference_data
from amiable.ops import volume
from amiable.ops.bench_urls import FLOOR_PATH

BENCH_URLCONF = "amiable.ops.bench_urls"


@dataclass
class Page:
    name: str  # stable key, « home.agent »
    label: str
    role: str  # a key of `people()`
    url: str


def people() -> dict[str, User]:
    """The accounts `seed_volume` made, by the role the benchmark plays."""
    full, limited = volume.creditor_emails(reference_data.CPAM["slug"])
    emails = {
        "agent": volume.agent_email(1),
        "supervisor": volume.SUPERVISOR_EMAIL,
        "agency_admin": volume.AGENCY_ADMIN_EMAIL,
        "creditor": full,
        "creditor_structure": limited,
    }
    users = {user.email: user for user in User.objects.filter(email__in=emails.values())}
    return {role: users[email] for role, email in emails.items()}


def _spaced(e164: str) -> str:
    digits = "0" + e164[3:]
    return " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))


def _query(path: str, **params) -> str:
    return f"{path}?{urlencode(params)}"


def plan(users: dict[str, User]) -> list[Page]:
    """The pages to measure, with the case, agent, reference and phone read from the volume."""
    case = (
        Case.objects.filter(creditor__slug=reference_data.CPAM["slug"], status=CaseStatus.IN_PROGRESS)
        .filter(paid_amount__gt=0, debtor__contact_points__kind=ContactKind.PHONE)
        .order_by("pk")
        .first()
    ) or Case.objects.filter(creditor__slug=reference_data.CPAM["slug"]).order_by("pk").first()
    phone = (
        ContactPoint.objects.filter(debtor_id=case.debtor_id, kind=ContactKind.PHONE)
        .values_list("value", flat=True)
        .first()
        or ContactPoint.objects.filter(kind=ContactKind.PHONE).values_list("value", flat=True).first()
        or "+33612345678"
    )
    cases = reverse("case_list")
    detail = reverse("case_detail", args=[case.pk])
    agent = users["agent"]
    return [
        Page("home.agent", "Accueil du gestionnaire", "agent", reverse("home")),
        Page("home.supervisor", "Accueil du superviseur", "supervisor", reverse("home")),
        Page("home.agency_admin", "Accueil de l'administrateur de l'agence", "agency_admin", reverse("home")),
        Page("home.creditor", "Accueil du créancier (toutes structures)", "creditor", reverse("home")),
        Page("home.creditor_structure", "Accueil du créancier (une structure)", "creditor_structure", reverse("home")),
        Page("list.agent", "Liste des dossiers : « Mes dossiers » du gestionnaire", "agent", cases),
        Page("list.supervisor", "Liste des dossiers du superviseur", "supervisor", cases),
        Page("list.balance", "Liste triée par reste dû", "supervisor", _query(cases, sort="montant")),
        Page(
            "list.status",
            "Liste filtrée par statut (en cours)",
            "supervisor",
            _query(cases, status=CaseStatus.IN_PROGRESS),
        ),
        Page("list.agent_filter", "Liste filtrée par gestionnaire", "supervisor", _query(cases, agent=agent.pk)),
        Page("search.name_accents", "Recherche d'un nom avec accents", "supervisor", _query(cases, q="Hélène Lefèvre")),
        Page(
            "search.name_plain", "Recherche du même nom sans accents", "supervisor", _query(cases, q="helene lefevre")
        ),
        Page(
            "search.reference",
            "Recherche d'une partie de référence",
            "supervisor",
            _query(cases, q=case.reference[-7:]),
        ),
        Page(
            "search.phone", "Recherche d'un téléphone écrit avec espaces", "supervisor", _query(cases, q=_spaced(phone))
        ),
        Page("case.agency", "Page d'un dossier (agence)", "supervisor", detail),
        Page("case.creditor", "Page d'un dossier (créancier)", "creditor", detail),
        Page("day.agent", "« Ma journée » du gestionnaire", "agent", reverse("work:day")),
        Page("requests.agency", "Demandes des créanciers (agence)", "supervisor", reverse("requests")),
        Page("requests.creditor", "Demandes du créancier (portail)", "creditor", reverse("requests")),
    ]


@dataclass
class Result:
    median_ms: float
    queries: int
    status: int
    runs: int = 0


def measure(client: Client, url: str, *, runs: int, budget: float = 10.0) -> Result:
    """One warm-up, up to `runs` timed requests (server time: the handler and its middleware, no network), then
    one more with the queries counted. A page slower than `budget` seconds in all gets fewer runs (at least
    one): at a million cases a slow page would otherwise hold the whole bench."""
    response = client.get(url)
    times = []
    spent = 0.0
    while len(times) < runs and (not times or spent < budget):
        start = perf_counter()
        client.get(url)
        times.append(perf_counter() - start)
        spent += times[-1]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return Result(statistics.median(times) * 1000, len(queries.captured_queries), response.status_code, len(times))


def floor_url() -> str:
    return FLOOR_PATH


def clients(users: dict[str, User]) -> dict[str, Client]:
    logged = {}
    for role, user in users.items():
        client = Client()
        client.force_login(user)
        logged[role] = client
    return logged
