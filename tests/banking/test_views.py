"""The bank pages: agency staff import statements, read them, settle the review queue and read the
reconciliation; creditor staff get 403 on every URL of `amiable.banking.urls`."""

import html
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from amiable.audit.models import AccessLogEntry
from amiable.banking.models import BankEntry, BankStatement, EntryStatus
from amiable.payments.models import Payment, PaymentMethod
from amiable.payments.services import payment_record
from tests.banking.conftest import import_sample
from tests.banking.records import DATA
from tests.factories import make_case

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def upload(client, name: str):
    file = SimpleUploadedFile(name, (DATA / name).read_bytes(), content_type="application/octet-stream")
    return client.post(reverse("banking:statements"), {"file": file}, follow=True)


def all_urls(statement: BankStatement, entry: BankEntry) -> list[tuple[str, str]]:
    return [
        ("get", reverse("banking:statements")),
        ("post", reverse("banking:statements")),
        ("get", reverse("banking:statement", args=[statement.pk])),
        ("get", reverse("banking:statement_file", args=[statement.pk])),
        ("get", reverse("banking:review")),
        ("post", reverse("banking:assign", args=[entry.pk])),
        ("post", reverse("banking:link", args=[entry.pk])),
        ("post", reverse("banking:dismiss", args=[entry.pk])),
        ("get", reverse("banking:reconciliation")),
    ]


@pytest.mark.parametrize("role", ["collaborator", "approver", "creditor_admin", "csr_only", "other_admin"])
def test_creditor_staff_get_403_everywhere(client, cases, users, role):
    import_sample("camt053-001.02-agence.xml")
    statement, entry = BankStatement.objects.get(), BankEntry.objects.filter(status=EntryStatus.TO_REVIEW).first()
    client.force_login(getattr(users, role))
    for method, url in all_urls(statement, entry):
        response = getattr(client, method)(url, {"reference": "CPAM-2026-00063", "reason": "x", "payment": 1})
        assert response.status_code == 403, (method, url)
    entry.refresh_from_db()
    assert entry.status == EntryStatus.TO_REVIEW and BankStatement.objects.count() == 1


def test_anonymous_people_are_sent_to_the_login(client, reference):
    response = client.get(reverse("banking:statements"))
    assert response.status_code == 302 and "next=/banque/" in response["Location"]


def test_agency_navigation_links_to_the_bank(client, users):
    client.force_login(users.agent)
    assert reverse("banking:statements") in text_of(client.get("/"))
    client.force_login(users.collaborator)
    assert reverse("banking:statements") not in text_of(client.get("/"))


def test_upload_imports_and_shows_the_statement(client, cases, users):
    client.force_login(users.agent)
    response = upload(client, "camt053-001.02-agence.xml")
    statement = BankStatement.objects.get()
    assert response.redirect_chain[-1][0] == reverse("banking:statement", args=[statement.pk])
    page = text_of(response)
    assert (
        "Relevé camt.053 (ISO 20022) importé : 5 mouvement(s) nouveau(x) sur 5 ; 2 crédit(s) rapproché(s) "
        "d'un dossier pour 165,50\u00a0€, 2 à examiner." in page
    )
    assert "Règlement dossier CPAM-2026-00041" in page and "Éloïse Dupré" in page
    assert "dossier CPAM-2026-00041" in page and "FR76 3000 6000 0112 3456 7890 189" in page
    assert statement.imported_by == users.agent


def test_upload_twice_and_refusals_are_messages(client, cases, users):
    client.force_login(users.supervisor)
    upload(client, "cfonb120-banque-a.txt")
    page = text_of(upload(client, "cfonb120-banque-a.txt"))
    assert "Ce fichier a déjà été importé le " in page
    page = text_of(upload(client, "camt053-001.08-autre-compte.xml"))
    assert "Relevé refusé : Relevé d'un autre compte (FR76 3000 4008 2000 0987 6543 274)" in page
    assert BankStatement.objects.count() == 1


def test_upload_without_file(client, users, reference):
    client.force_login(users.agent)
    response = client.post(reverse("banking:statements"), {})
    assert response.status_code == 200 and "Ce champ est obligatoire." in text_of(response)
    assert BankStatement.objects.count() == 0


def test_statement_list_and_file_download_logged(client, cases, users):
    import_sample("cfonb120-banque-a.txt")
    statement = BankStatement.objects.get()
    client.force_login(users.agent)
    page = text_of(client.get(reverse("banking:statements")))
    assert "du 25/11/2026 au 26/11/2026" in page and "cfonb120-banque-a.txt" in page
    response = client.get(reverse("banking:statement_file", args=[statement.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (DATA / "cfonb120-banque-a.txt").read_bytes()
    assert AccessLogEntry.objects.filter(user=users.agent, label__startswith="Relevé bancaire").exists()
    assert client.get(reverse("banking:statement", args=[statement.pk + 99])).status_code == 404


def test_review_page_and_assign_by_reference(client, cases, users):
    import_sample("camt053-001.02-agence.xml")
    credit = BankEntry.objects.get(amount=Decimal("30.00"))
    client.force_login(users.agent)
    page = text_of(client.get(reverse("banking:review")))
    assert "Crédit de 30,00\u00a0€ du 23/11/2026" in page and "Le libellé désigne 2 dossiers ouverts." in page
    response = client.post(reverse("banking:assign", args=[credit.pk]), {"reference": "cpam-2026-00063"}, follow=True)
    assert "Crédit de 30,00\u00a0€ affecté au dossier CPAM-2026-00063." in text_of(response)
    credit.refresh_from_db()
    assert credit.status == EntryStatus.MATCHED and credit.payment.case == cases["CPAM-2026-00063"]
    again = client.post(reverse("banking:assign", args=[credit.pk]), {"reference": "CPAM-2026-00070"}, follow=True)
    assert "Ce mouvement a déjà été traité" in text_of(again)


def test_assign_to_an_unknown_or_ambiguous_reference(client, cases, users, reference):
    import_sample("camt053-001.02-agence.xml")
    credit = BankEntry.objects.get(amount=Decimal("30.00"))
    make_case(structure=reference.other_structure, reference="CPAM-2026-00063")
    client.force_login(users.agent)
    url = reverse("banking:assign", args=[credit.pk])
    page = text_of(client.post(url, {"reference": "INCONNUE"}, follow=True))
    assert "Aucun dossier non clos n'a la référence « INCONNUE »." in page
    page = text_of(client.post(url, {"reference": "CPAM-2026-00063"}, follow=True))
    assert (
        "Plusieurs dossiers ont la référence « CPAM-2026-00063 » (Autre créancier, Caisse Primaire d'Assurance "
        "Maladie de Paris) : choisissez le créancier." in page
    )
    page = text_of(client.post(url, {"reference": "CPAM-2026-00063", "creditor": reference.other.pk}, follow=True))
    assert "affecté au dossier CPAM-2026-00063" in page
    credit.refresh_from_db()
    assert credit.payment.case.creditor == reference.other


def test_dismiss_and_link_from_the_review_page(client, cases, users):
    import_sample("camt053-001.02-agence.xml")
    credit = BankEntry.objects.get(amount=Decimal("30.00"))
    batch = BankEntry.objects.get(amount=Decimal("80.00"))
    cheque = payment_record(
        case=cases["CPAM-2026-00063"],
        amount="80.00",
        collected_on=date(2026, 11, 20),
        method=PaymentMethod.CHEQUE,
        actor=users.agent,
    )
    client.force_login(users.agent)
    page = text_of(client.get(reverse("banking:review")))
    assert "Chèque de 80,00\u00a0€ du 20/11/2026, dossier CPAM-2026-00063" in page
    response = client.post(reverse("banking:link", args=[batch.pk]), {"payment": cheque.pk}, follow=True)
    assert "rapproché du paiement saisi sur le dossier CPAM-2026-00063" in text_of(response)
    response = client.post(reverse("banking:dismiss", args=[credit.pk]), {"reason": ""}, follow=True)
    assert "Motif : Ce champ est obligatoire." in text_of(response)
    response = client.post(reverse("banking:dismiss", args=[credit.pk]), {"reason": "Virement interne"}, follow=True)
    assert "Crédit de 30,00\u00a0€ écarté" in text_of(response)
    assert "Aucun crédit à examiner." in text_of(client.get(reverse("banking:review")))
    assert Payment.objects.count() == 3
    assert client.post(reverse("banking:link", args=[credit.pk]), {"payment": 999999}).status_code == 404


def test_reconciliation_page(client, cases, users):
    client.force_login(users.agent)
    assert "Aucun relevé importé" in text_of(client.get(reverse("banking:reconciliation")))
    import_sample("camt053-001.02-agence.xml")
    page = text_of(client.get(reverse("banking:reconciliation")))
    assert "Au 23/11/2026, date du nouveau solde du dernier relevé importé" in page
    assert "1\u202f396,50\u00a0€" in page and "165,50\u00a0€" in page and "1\u202f231,00\u00a0€" in page
    assert "Écart non expliqué" in page


def test_pages_keep_their_number_of_queries(client, cases, users, django_assert_max_num_queries):
    import_sample("camt053-001.02-agence.xml")
    import_sample("cfonb120-banque-a.txt")
    client.force_login(users.agent)
    for name in ("banking:statements", "banking:review", "banking:reconciliation"):
        with django_assert_max_num_queries(25):
            assert client.get(reverse(name)).status_code == 200
