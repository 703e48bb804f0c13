"""Building a creditor's quarterly statistics workbook (C41) and storing it once per quarter with its
SHA-256; built again, the new workbook replaces the file and the build is audited again.

A workbook built while its quarter was still running is partial: the daily command builds it again once the
quarter is over, and the portal may replace it. One built after its quarter closed is final: only the
agency (its page, or the command with --force) replaces it, so that the creditor's meeting packs keep
pointing to the figures the agency stands by."""

import hashlib

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from amiable.accounts.permissions import require
from amiable.audit.services import audit_record
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import Creditor
from amiable.reporting.models import QuarterlyReport
from amiable.reporting.quarterly import quarter_parse, quarterly_figures, quarterly_xlsx, report_is_final
from amiable.reporting.selectors_quarterly import may_read_quarterly


def quarterly_report_build(
    *, creditor: Creditor, quarter: str, actor=None, replace_final: bool = False
) -> QuarterlyReport:
    """Compute the figures of `quarter` (« 2026-Q3 ») for the creditor, write the workbook and store it.
    A quarter in progress is allowed (its figures run to the day of the build); one not begun is refused.
    `actor` None is the system (the command); a person must be agency staff, or creditor staff of this
    creditor seeing all its structures. A final workbook (see above) is replaced only with `replace_final`
    (the agency's page, the command's --force); without it, the build is refused.

    Not one transaction: the figures are read first, then only the storing is atomic, so that the reads of a
    large creditor never hold the database's write lock."""
    period = quarter_parse(quarter)
    if actor is not None:
        require(
            may_read_quarterly(actor, creditor.pk),
            "Les statistiques couvrent toutes les structures du créancier : seules l'agence et les personnes du "
            "créancier qui les voient toutes peuvent les produire.",
        )
    if replace_final:
        require(actor is None or actor.is_agency, "Seule l'agence peut remplacer des statistiques définitives.")
    now = timezone.now()
    if period.start > timezone.localdate(now):
        raise ApplicationError(f"Le {period.title} n'a pas commencé : pas de statistiques à produire.")
    existing = QuarterlyReport.objects.filter(creditor=creditor, quarter=period.label).first()
    if existing is not None and not replace_final and report_is_final(existing):
        _refuse_final(existing, period)  # before the figures are read: checked again under the lock
    figures = quarterly_figures(creditor=creditor, quarter=period, now=now)
    content = quarterly_xlsx(figures, built_at=now)
    return _store(
        creditor=creditor,
        period=period,
        content=content,
        summary=figures.summary(),
        now=now,
        actor=actor,
        replace_final=replace_final,
    )


def _refuse_final(report: QuarterlyReport, period) -> None:
    raise ApplicationError(
        f"Les statistiques du {period.title} sont définitives : produites le "
        f"{timezone.localtime(report.built_at):%d/%m/%Y}, après la fin du trimestre, elles ne sont pas remplacées. "
        "Adressez-vous à l'agence pour les produire de nouveau."
    )


def _store(
    *, creditor: Creditor, period, content: bytes, summary: dict, now, actor, replace_final: bool
) -> QuarterlyReport:
    """Store the workbook under the quarter's row, the creditor's row locked so that two builds at once write
    one after the other. The former file is removed once the new one is committed; the new one is removed
    if the transaction fails."""
    stored = None
    try:
        with transaction.atomic():
            Creditor.objects.select_for_update().filter(pk=creditor.pk).first()
            report = QuarterlyReport.objects.filter(creditor=creditor, quarter=period.label).first()
            replaced = report is not None
            if replaced and not replace_final and report_is_final(report):
                _refuse_final(report, period)
            old_name, old_sha = (report.xlsx.name, report.xlsx_sha256) if report else ("", "")
            if report is None:
                report = QuarterlyReport(creditor=creditor, quarter=period.label)
            report.period_start, report.period_end = period.start, period.end
            report.built_at = now
            report.built_by = actor if getattr(actor, "is_authenticated", False) else None
            report.summary = summary
            report.xlsx_sha256 = hashlib.sha256(content).hexdigest()
            report.xlsx.save(f"statistiques-{creditor.slug}-{period.label}.xlsx", ContentFile(content), save=False)
            stored = (report.xlsx.storage, report.xlsx.name)
            report.save()
            audit_record(
                actor=actor,
                verb="quarterly_report.built",
                target=report,
                before={"sha256": old_sha} if replaced else None,
                after={
                    "quarter": period.label,
                    "period_start": period.start,
                    "period_end": period.end,
                    "sha256": report.xlsx_sha256,
                    "replaced": replaced,
                    "figures": summary,
                },
            )
            if old_name and old_name != report.xlsx.name:
                storage = report.xlsx.storage
                transaction.on_commit(lambda: storage.delete(old_name))
    except BaseException:
        if stored is not None:
            stored[0].delete(stored[1])
        raise
    return report
