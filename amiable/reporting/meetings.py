"""The follow-up meetings of a contract (C14, CCTP §1.7): their dates (1 month and 3 months after the start,
then every six months), who may see them and write their minutes, and their pack — a PDF/A summary with
charts of the figures since the contract's start, and a workbook (the latest quarterly statistics before the
meeting when there is one, else an XLSX of the same figures as the PDF). Reads and building only: the
services (`services_meetings`) store, notify and audit.

A meeting covers every structure of its creditor: its pages are for the agency and for the creditor's staff
who are not limited to some structures."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet
from django.http import Http404
from django.template.loader import render_to_string
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from amiable.accounts.models import Role
from amiable.audit.downloads import logged_file_response
from amiable.core.dates import add_months
from amiable.core.money import ZERO, format_money, format_percent, rate_percent
from amiable.core.spreadsheets import DATE_FORMAT, MONEY_FORMAT, neutralise
from amiable.creditors.models import Creditor, Structure
from amiable.creditors.selectors import agency_get
from amiable.letters.services import letter_pdf
from amiable.reporting.charts import Chart
from amiable.reporting.dashboards import Figures, charts_from, last_months
from amiable.reporting.models import FollowUpMeeting, QuarterlyReport, StatsRollup
from amiable.reporting.rollup import (
    AGE_BAND,
    AGE_BANDS,
    CLAIMED,
    COHORT_CLAIMED,
    COHORT_RECOVERED,
    RECOVERED,
    RECOVERED_MONTH,
)

# The meetings' offsets from the contract's start, in months: 1, 3, then every semester (6, 12, 18…).
FIRST_OFFSETS = (1, 3)
SEMESTER = 6
# How far ahead `check_meetings` plans, and how many days before a meeting both sides are reminded (and its
# pack is built): a week leaves time to read the pack and to move the date.
PLAN_AHEAD_MONTHS = 6
REMINDER_DAYS = 7
MINUTES_WRITERS = frozenset({Role.SUPERVISOR, Role.AGENCY_ADMIN})
FILE_KINDS = ("pdf", "xlsx", "minutes")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MINUTES_CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "odt": "application/vnd.oasis.opendocument.text",
    "txt": "text/plain; charset=utf-8",
}


def meeting_label(offset: int) -> str:
    return f"Réunion à {offset} mois"


def meeting_schedule(*, start: date, until: date) -> list[tuple[date, str]]:
    """The meetings due from `start` up to `until` included: (date, label). Months end as
    `add_months` says: 31 January + 1 month is 28 (or 29) February."""
    out = []
    for offset in _offsets():
        due = add_months(start, offset)
        if due > until:
            return out
        out.append((due, meeting_label(offset)))
    return out  # pragma: no cover — the offsets never end


def _offsets():
    yield from FIRST_OFFSETS
    offset = SEMESTER
    while True:
        yield offset
        offset += SEMESTER


def can_keep_minutes(user) -> bool:
    """The agency writes the minutes (« un compte rendu détaillé sera remis par le prestataire »): its
    supervisors and admins; the creditor reads them."""
    return bool(getattr(user, "is_agency", False)) and user.role in MINUTES_WRITERS


def can_see_meetings(user) -> bool:
    """Agency staff, and creditor staff not limited to some structures (a pack covers them all)."""
    if getattr(user, "is_agency", False):
        return True
    return bool(getattr(user, "is_creditor_user", False)) and user.allowed_structure_ids is None


def meeting_list(*, user) -> QuerySet[FollowUpMeeting]:
    """The meetings the user may see: every creditor's for the agency, its own for a creditor's staff."""
    if not can_see_meetings(user):
        return FollowUpMeeting.objects.none()
    qs = FollowUpMeeting.objects.select_related("creditor", "minutes_by")
    if not user.is_agency:
        qs = qs.filter(creditor_id=user.creditor_id)
    return qs.order_by("-due_on", "creditor__name", "pk")


def meeting_get(*, user, pk: int) -> FollowUpMeeting:
    """One meeting the user may see; DoesNotExist otherwise (the views answer 404)."""
    return meeting_list(user=user).get(pk=pk)


def quarterly_before(meetings: list[FollowUpMeeting]) -> dict[int, QuarterlyReport]:
    """For each meeting, the latest quarterly workbook of its creditor whose quarter ended before it (one
    query for the whole list)."""
    if not meetings:
        return {}
    reports = list(
        QuarterlyReport.objects.filter(creditor_id__in={m.creditor_id for m in meetings})
        .exclude(xlsx="")
        .order_by("-period_end", "-pk")
    )
    found = {}
    for meeting in meetings:
        for report in reports:
            if report.creditor_id == meeting.creditor_id and report.period_end < meeting.due_on:
                found[meeting.pk] = report
                break
    return found


@dataclass(frozen=True)
class MeetingWorkbook:
    """The workbook of a meeting: its file, the name to download it under, and where it comes from."""

    file: object
    filename: str
    label: str


def meeting_workbook(meeting: FollowUpMeeting, report: QuarterlyReport | None = None) -> MeetingWorkbook | None:
    """The meeting's own XLSX when it has one, else the latest quarterly workbook before it, else None."""
    if meeting.pack_xlsx:
        return MeetingWorkbook(meeting.pack_xlsx, f"reunion-{meeting.due_on:%Y-%m-%d}.xlsx", "Classeur de séance")
    report = report or quarterly_before([meeting]).get(meeting.pk)
    if report is not None:
        return MeetingWorkbook(report.xlsx, f"statistiques-{report.quarter}.xlsx", f"Statistiques {report.quarter}")
    return None


# --- The pack -----------------------------------------------------------------------------------------


@dataclass
class StructureRow:
    code: str
    name: str
    cases: int
    claimed: Decimal
    recovered: Decimal

    @property
    def rate(self) -> Decimal | None:
        return rate_percent(self.recovered, self.claimed)


@dataclass
class PackFigures:
    """The figures of a pack, since the contract's start: the cases received since then (claimed,
    recovered, paid in full), the money recovered since then, the open cases now, per structure."""

    creditor: Creditor
    since: date
    until: date
    cases: int
    paid_cases: int
    claimed: Decimal
    recovered: Decimal
    recovered_since: Decimal
    open_cases: int
    open_balance: Decimal
    structures: list[StructureRow]
    charts: list[Chart]
    months: list[tuple[date, Decimal, int]]
    refreshed_at: object

    @property
    def rate(self) -> Decimal | None:
        return rate_percent(self.recovered, self.claimed)

    def key_rows(self) -> list[tuple[str, str]]:
        """The key figures as (label, French text): the PDF's first table and the workbook's first sheet."""
        return [
            ("Dossiers reçus depuis le début du contrat", str(self.cases)),
            ("Montant réclamé sur ces dossiers", format_money(self.claimed)),
            ("Montant recouvré sur ces dossiers", format_money(self.recovered)),
            ("Taux de recouvrement (en montant)", format_percent(self.rate)),
            ("Dossiers soldés", str(self.paid_cases)),
            ("Montant recouvré depuis le début du contrat (tous dossiers)", format_money(self.recovered_since)),
            ("Dossiers en cours", str(self.open_cases)),
            ("Reste dû sur les dossiers en cours", format_money(self.open_balance)),
        ]


def _months_between(start: date, end: date) -> list[date]:
    first, last = start.replace(day=1), end.replace(day=1)
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    return last_months(end, max(count, 1))


def pack_figures(*, creditor: Creditor, since: date, until: date) -> PackFigures:
    """The creditor's figures since `since` (the contract's start), read from its rollup: one query for the
    rows, one for the structures' names."""
    start_month = since.replace(day=1)
    rows = StatsRollup.objects.filter(creditor=creditor).values(
        "structure_id", "metric", "period", "dimension", "count", "amount", "refreshed_at"
    )
    totals, per_structure, refreshed = Figures(), {}, []
    for row in rows:
        refreshed.append(row["refreshed_at"])
        if row["period"] is not None and row["period"] < start_month:
            continue
        if row["structure_id"] is None:
            totals.add(row)
        elif row["metric"] in (COHORT_CLAIMED, COHORT_RECOVERED):
            # A structure's cases since the start: its cohorts, summed into CLAIMED / RECOVERED.
            metric = CLAIMED if row["metric"] == COHORT_CLAIMED else RECOVERED
            per_structure.setdefault(row["structure_id"], Figures()).add({**row, "metric": metric, "period": None})
    names = {s.pk: s for s in Structure.objects.filter(pk__in=list(per_structure)).order_by("code", "pk")}
    ordered = sorted(per_structure.items(), key=lambda item: names[item[0]].code)
    months = _months_between(since, until)
    cohorts = totals.periods(COHORT_CLAIMED)
    return PackFigures(
        creditor=creditor,
        since=since,
        until=until,
        cases=sum(totals.count(COHORT_CLAIMED, p) for p in cohorts),
        paid_cases=sum(totals.count(COHORT_RECOVERED, p) for p in cohorts),
        claimed=sum((totals.amount(COHORT_CLAIMED, p) for p in cohorts), ZERO),
        recovered=sum((totals.amount(COHORT_RECOVERED, p) for p in cohorts), ZERO),
        recovered_since=sum((totals.amount(RECOVERED_MONTH, p) for p in totals.periods(RECOVERED_MONTH)), ZERO),
        open_cases=sum(totals.count(AGE_BAND, None, key) for key, _, _ in AGE_BANDS),
        open_balance=sum((totals.amount(AGE_BAND, None, key) for key, _, _ in AGE_BANDS), ZERO),
        structures=[
            StructureRow(
                code=names[pk].code,
                name=names[pk].name,
                cases=f.count(CLAIMED),
                claimed=f.amount(CLAIMED),
                recovered=f.amount(RECOVERED),
            )
            for pk, f in ordered
        ],
        charts=charts_from(totals, months=months, structures=[(names[pk].code, f) for pk, f in ordered]),
        months=[(m, totals.amount(RECOVERED_MONTH, m), totals.count(RECOVERED_MONTH, m)) for m in months],
        refreshed_at=max(refreshed) if refreshed else None,
    )


def pack_html(*, meeting: FollowUpMeeting, figures: PackFigures, workbook_label: str) -> str:
    return render_to_string(
        "reporting/meetings_pack_pdf.html",
        {"agency": agency_get(), "meeting": meeting, "figures": figures, "workbook_label": workbook_label},
    )


def pack_pdf(*, meeting: FollowUpMeeting, figures: PackFigures, workbook_label: str) -> bytes:
    """The pack's PDF/A (WeasyPrint draws the inline SVG charts; nothing is fetched)."""
    return letter_pdf(pack_html(meeting=meeting, figures=figures, workbook_label=workbook_label))


def _sheet(book: Workbook, title: str, header: list[str], rows, *, money=(), dates=()) -> None:
    sheet = book.create_sheet(title)
    bold = Font(bold=True)
    cells = []
    for text in header:
        cell = WriteOnlyCell(sheet, value=neutralise(text))
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)
    for row in rows:
        out = []
        for index, value in enumerate(row):
            cell = WriteOnlyCell(sheet, value=neutralise(value))
            if index in money:
                cell.number_format = MONEY_FORMAT
            elif index in dates:
                cell.number_format = DATE_FORMAT
            out.append(cell)
        sheet.append(out)


def pack_xlsx(*, meeting: FollowUpMeeting, figures: PackFigures) -> bytes:
    """The same figures as the PDF, one sheet per table (openpyxl in write-only mode)."""
    book = Workbook(write_only=True)
    _sheet(
        book,
        "Chiffres clés",
        ["Indicateur", "Valeur"],
        [
            ("Créancier", figures.creditor.name),
            ("Réunion", f"{meeting.label} du {meeting.due_on:%d/%m/%Y}"),
            ("Période", f"du {figures.since:%d/%m/%Y} au {figures.until:%d/%m/%Y}"),
            *figures.key_rows(),
        ],
    )
    _sheet(
        book,
        "Par structure",
        ["Code", "Structure", "Dossiers reçus", "Réclamé", "Recouvré", "Taux de recouvrement (%)"],
        [(s.code, s.name, s.cases, s.claimed, s.recovered, s.rate) for s in figures.structures],
        money=(3, 4),
    )
    _sheet(
        book,
        "Recouvré par mois",
        ["Mois", "Recouvré", "Mouvements"],
        [(month, amount, count) for month, amount, count in figures.months],
        money=(1,),
        dates=(0,),
    )
    cohorts, _, channels, ages = figures.charts[1:]
    for name, chart in (("Par mois de réception", cohorts), ("Par canal", channels), ("Par ancienneté", ages)):
        _sheet(book, name, chart.headers, chart.rows)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def meeting_file_response(request, *, meeting: FollowUpMeeting, kind: str):
    """One file of a meeting the caller found among those the person may see: the pack's PDF, its workbook
    (its own or the quarterly one), or the minutes' file; access-logged, never cached."""
    label = f"{meeting.label} du {meeting.due_on:%d/%m/%Y} ({meeting.creditor.name})"
    if kind == "pdf":
        return logged_file_response(
            request,
            file=meeting.pack_pdf,
            filename=f"dossier-de-seance-{meeting.due_on:%Y-%m-%d}.pdf",
            label=f"Dossier de séance — {label}",
            creditor_pk=meeting.creditor_id,
            missing="Le dossier de séance n'est pas encore produit.",
        )
    if kind == "xlsx":
        workbook = meeting_workbook(meeting)
        if workbook is None:
            raise Http404("Le classeur de séance n'est pas encore produit.")
        return logged_file_response(
            request,
            file=workbook.file,
            filename=workbook.filename,
            label=f"{workbook.label} — {label}",
            creditor_pk=meeting.creditor_id,
            content_type=XLSX,
            as_attachment=True,
        )
    if kind == "minutes":
        name = meeting.minutes_file.name or ""
        suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        return logged_file_response(
            request,
            file=meeting.minutes_file,
            filename=f"compte-rendu-{meeting.due_on:%Y-%m-%d}.{suffix}",
            label=f"Compte rendu — {label}",
            creditor_pk=meeting.creditor_id,
            missing="Aucun fichier de compte rendu.",
            content_type=MINUTES_CONTENT_TYPES.get(suffix, "application/octet-stream"),
            as_attachment=suffix != "pdf",
        )
    raise Http404("Fichier introuvable.")
