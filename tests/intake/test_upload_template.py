"""The batch template of the upload page (CSV and XLSX): the creditor's columns and one example line that imports
as it is, formulas neutralised, each person getting their own creditor's; and the batch page's list of the cases
the batch opened."""

import html
import io

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from amiable.creditors.models import Structure
from amiable.intake import pipeline
from amiable.intake.models import BatchSource, ColumnMapping
from amiable.intake.services import batch_import
from amiable.intake.template import batch_template
from tests.intake.conftest import DATA

URL = "/lots/transmettre/modele.{}"


def _check(creditor, content: bytes):
    parsed = pipeline.read(content, creditor=creditor, structure_given=False)
    validated = pipeline.validate(
        parsed.rows,
        creditor=creditor,
        structures=Structure.objects.filter(creditor=creditor, is_active=True),
        default_structure=None,
        today=timezone.localdate(),
    )
    list(validated)
    return validated


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_the_template_imports_as_it_is(reference, kind):
    content, filename, _type = batch_template(creditor=reference.cpam, kind=kind)

    assert filename == f"modele-lot-{reference.cpam.slug}.{kind}"
    validated = _check(reference.cpam, content)
    assert (validated.row_count, validated.accepted, validated.rejected) == (1, 1, 0), validated.rejected_rows


def test_the_template_uses_the_creditors_own_headers_and_neutralises_formulas(reference):
    ColumnMapping.objects.create(creditor=reference.cpam, header="=N° de titre", column="reference")

    content, _name, _type = batch_template(creditor=reference.cpam, kind="csv")
    header = content.decode("utf-8-sig").splitlines()[0].split(";")
    assert header[0] == "'=N° de titre"  # the creditor's header, neutralised
    assert {"nom", "solde", "structure"} <= set(header)

    sheet = load_workbook(io.BytesIO(batch_template(creditor=reference.cpam, kind="xlsx")[0])).active
    assert sheet.cell(1, 1).value == "'=N° de titre"


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_creditor_staff_download_their_own_template(client, users, reference, kind):
    client.force_login(users.other_admin)

    # An agency parameter naming another creditor is ignored for creditor staff.
    response = client.get(URL.format(kind) + f"?creditor={reference.cpam.pk}")

    assert response.status_code == 200
    assert f"modele-lot-{reference.other.slug}.{kind}" in response["Content-Disposition"]
    validated = _check(reference.other, response.content)
    assert validated.accepted == 1  # with the other creditor's own structure code
    if kind == "csv":
        assert b"CSR" not in response.content and b"CDOP" not in response.content


def test_agency_staff_download_the_chosen_creditors_template(client, users, reference):
    client.force_login(users.agent)

    response = client.get(URL.format("csv") + f"?creditor={reference.cpam.pk}")

    assert response.status_code == 200
    assert f"modele-lot-{reference.cpam.slug}.csv" in response["Content-Disposition"]


def test_template_is_refused_to_staff_limited_to_structures_and_unknown_formats(client, users):
    client.force_login(users.csr_only)
    assert client.get(URL.format("csv")).status_code == 403
    client.force_login(users.creditor_admin)
    assert client.get(URL.format("pdf")).status_code == 404


def test_upload_page_offers_the_templates(client, users):
    client.force_login(users.creditor_admin)

    page = html.unescape(client.get("/lots/transmettre/").content.decode())

    assert 'href="/lots/transmettre/modele.csv"' in page and 'href="/lots/transmettre/modele.xlsx"' in page


# --- the batch's cases ---------------------------------------------------------------------------------------


def test_batch_page_lists_its_cases_paginated(client, users, reference, gnupg_home, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    outcome = batch_import(
        creditor=reference.cpam,
        content=(DATA / "cpam-lot-anomalies.csv").read_bytes(),
        filename="cpam-lot-anomalies.csv",
        source=BatchSource.COMMAND,
        actor=None,
    )
    batch = outcome.batch
    client.force_login(users.creditor_admin)
    lines = list(batch.lines.select_related("case").order_by("line"))

    page = html.unescape(client.get(f"/lots/{batch.pk}/").content.decode())

    assert "Dossiers ouverts par ce lot (22)" in page
    for line in lines:
        assert f'<a href="/dossiers/{line.case.pk}/">{line.case.reference}</a>' in page


def test_batch_page_queries_do_not_grow_with_its_cases(
    client, users, reference, gnupg_home, settings, tmp_path, django_assert_max_num_queries
):
    settings.MEDIA_ROOT = tmp_path
    outcome = batch_import(
        creditor=reference.cpam,
        content=(DATA / "cpam-lot-anomalies.csv").read_bytes(),
        filename="cpam-lot-anomalies.csv",
        source=BatchSource.COMMAND,
        actor=None,
    )
    client.force_login(users.creditor_admin)

    with django_assert_max_num_queries(14):
        assert client.get(f"/lots/{outcome.batch.pk}/").status_code == 200
