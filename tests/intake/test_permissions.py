"""Who may transmit a batch, checked by the services themselves (`import_job_create`, `batch_import`) and
not only by the upload page: another creditor's staff, a structure-limited account, anyone outside the
staff are refused in French before anything is written. The import also needs the creditor's terms."""

import pytest

from amiable.audit.models import AuditEvent
from amiable.cases.models import Case
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import ContractTerms
from amiable.intake.models import Batch, BatchSource, ImportJob
from amiable.intake.services import batch_import, import_job_create
from tests.intake.conftest import DATA

CONTENT = (DATA / "cpam-lot-exemple.csv").read_bytes()
REFUSED = (
    "Vous ne pouvez pas transmettre de lot pour ce créancier : seuls l'agence et le personnel du créancier "
    "dont le compte n'est pas limité à certaines structures le peuvent."
)


def written() -> dict[str, int]:
    return {
        "jobs": ImportJob.objects.count(),
        "batches": Batch.objects.count(),
        "cases": Case.objects.count(),
        "events": AuditEvent.objects.filter(verb__startswith="batch.").count(),
    }


@pytest.mark.parametrize("role", ["other_admin", "csr_only"])
def test_import_job_create_refuses_who_may_not_transmit_for_the_creditor(reference, users, role):
    before = written()

    with pytest.raises(ApplicationError) as exc:
        import_job_create(creditor=reference.cpam, content=CONTENT, filename="lot.csv", actor=getattr(users, role))

    assert exc.value.message == REFUSED
    assert written() == before


@pytest.mark.parametrize("role", ["other_admin", "csr_only"])
def test_batch_import_by_a_person_is_checked_like_the_upload(reference, users, gnupg_home, role):
    before = written()

    with pytest.raises(ApplicationError) as exc:
        batch_import(
            creditor=reference.cpam,
            content=CONTENT,
            filename="lot.csv",
            source=BatchSource.CREDITOR_UPLOAD,
            actor=getattr(users, role),
        )

    assert exc.value.message == REFUSED
    assert written() == before  # not even a `batch.refused` event: the person had no right to send it


def test_agency_staff_and_the_system_import(reference, users, gnupg_home):
    by_agent = batch_import(
        creditor=reference.cpam,
        content=CONTENT,
        filename="lot.csv",
        source=BatchSource.AGENCY_UPLOAD,
        actor=users.agent,
    )
    assert by_agent.status == "accepted"
    again = batch_import(
        creditor=reference.cpam, content=CONTENT, filename="lot.csv", source=BatchSource.COMMAND, actor=None
    )
    assert again.status == "duplicate"


def test_a_creditor_without_contract_terms_has_its_batch_refused_by_name(reference, gnupg_home):
    """No default certificate delay: without terms the file is refused, nothing but the refusal is written."""
    ContractTerms.objects.filter(creditor=reference.cpam).delete()

    outcome = batch_import(
        creditor=reference.cpam, content=CONTENT, filename="lot.csv", source=BatchSource.COMMAND, actor=None
    )

    assert outcome.status == "refused"
    assert outcome.error == (
        "Le créancier Caisse Primaire d'Assurance Maladie de Paris n'a pas de conditions contractuelles : "
        "renseignez-les dans l'administration."
    )
    assert not Batch.objects.exists() and not Case.objects.exists()
    assert AuditEvent.objects.filter(verb="batch.refused").count() == 1
