"""Calls follow the first letter (CPCE R124-4, L2) and promises can be marked kept by an agent."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from amiable.audit.models import AuditEvent
from amiable.cases.models import Action
from amiable.contact.models import CallRecord, PromiseStatus, PromiseToPay
from amiable.contact.services import call_record, promise_mark_kept, promises_check
from amiable.core.exceptions import ApplicationError
from tests.factories import make_case
from tests.work_fixtures import first_letter_sent

PARIS = ZoneInfo("Europe/Paris")
TUESDAY_11 = datetime(2026, 7, 7, 11, 0, tzinfo=PARIS)
PHONE = "+33612345678"


@pytest.fixture
def case(reference, users):
    return make_case(structure=reference.cdop, reference="CALL-0001", assigned_agent=users.agent)


def test_an_outbound_call_before_the_first_letter_is_refused_and_writes_nothing(case, users):
    with pytest.raises(ApplicationError) as error:
        call_record(case=case, actor=users.agent, number=PHONE, outcome="reached", at=TUESDAY_11)

    assert error.value.message == (
        "Appel sortant refusé : la première lettre du dossier CALL-0001 n'est pas encore partie (CPCE R124-4). "
        "Envoyez-la avant tout appel."
    )
    assert not Action.objects.filter(case=case).exists()
    assert not AuditEvent.objects.filter(verb="call.recorded").exists()


def test_an_inbound_call_before_the_first_letter_is_recorded(case, users):
    call = call_record(case=case, actor=users.agent, number=PHONE, outcome="reached", direction="in", at=TUESDAY_11)
    assert call.first_letter is None


def test_an_outbound_call_keeps_the_first_letter_it_recalls(case, users):
    letter = first_letter_sent(case)

    call = call_record(case=case, actor=users.agent, number=PHONE, outcome="reached", at=TUESDAY_11)

    assert call.first_letter == letter
    event = AuditEvent.objects.get(verb="call.recorded")
    assert event.after["first_letter"] == letter.number


def test_a_call_dated_before_the_first_letter_is_refused(case, users):
    first_letter_sent(case, at=datetime(2026, 7, 8, 10, 0, tzinfo=PARIS))
    with pytest.raises(ApplicationError, match="n'est pas encore partie"):
        call_record(case=case, actor=users.agent, number=PHONE, outcome="reached", at=TUESDAY_11)
    assert not CallRecord.objects.exists()


def test_the_call_form_shows_the_first_letter_to_quote(client, case, users):
    client.force_login(users.agent)
    page = client.get(f"/travail/dossiers/{case.pk}/actions/").content.decode()
    assert "Appel sortant impossible</strong> : la première lettre n'est pas encore partie (CPCE R124-4)" in page

    letter = first_letter_sent(case)
    page = client.get(f"/travail/dossiers/{case.pk}/actions/").content.decode()
    assert f"notre première lettre n° <strong>{letter.number}</strong> du <strong>04/05/2026</strong>" in page


def _promise(case, users) -> PromiseToPay:
    first_letter_sent(case)
    call_record(
        case=case,
        actor=users.agent,
        number=PHONE,
        outcome="promise",
        at=TUESDAY_11,
        promise_amount="50.00",
        promise_due_on=date(2026, 7, 20),
    )
    return PromiseToPay.objects.get(case=case)


def test_a_promise_marked_kept_is_not_broken_later(case, users):
    promise = _promise(case, users)

    promise_mark_kept(promise=promise, actor=users.agent)

    assert promises_check(today=date(2026, 8, 1)) == 0
    promise.refresh_from_db()
    assert promise.status == PromiseStatus.KEPT
    event = AuditEvent.objects.get(verb="promise.kept")
    assert event.before == {"status": "pending"} and event.case_pk == case.pk


def test_a_promise_not_marked_kept_is_still_broken(case, users):
    promise = _promise(case, users)
    assert promises_check(today=date(2026, 8, 1)) == 1
    promise.refresh_from_db()
    assert promise.status == PromiseStatus.BROKEN


def test_marking_a_promise_kept_twice_records_once_and_a_creditor_cannot(case, users):
    promise = _promise(case, users)
    promise_mark_kept(promise=promise, actor=users.agent)
    promise_mark_kept(promise=promise, actor=users.agent)
    assert AuditEvent.objects.filter(verb="promise.kept").count() == 1
    with pytest.raises(ApplicationError, match="Seule l'agence peut marquer une promesse tenue"):
        promise_mark_kept(promise=promise, actor=users.creditor_admin)


@pytest.mark.parametrize("who", ["creditor_admin", "other_admin"])
def test_creditor_staff_may_neither_record_a_call_nor_mark_a_promise_kept(case, users, who):
    promise = _promise(case, users)
    before = (
        AuditEvent.objects.count(),
        Action.objects.filter(channel="call").count(),
        PromiseToPay.objects.filter(status=PromiseStatus.PENDING).count(),
    )

    with pytest.raises(ApplicationError) as exc:
        promise_mark_kept(promise=promise, actor=getattr(users, who))
    assert exc.value.message == "Seule l'agence peut marquer une promesse tenue."
    with pytest.raises(ApplicationError) as exc:
        call_record(case=case, actor=getattr(users, who), number="+33612345678", outcome="reached")
    assert exc.value.message == "Seule l'agence peut enregistrer un appel."

    assert (
        AuditEvent.objects.count(),
        Action.objects.filter(channel="call").count(),
        PromiseToPay.objects.filter(status=PromiseStatus.PENDING).count(),
    ) == before


def test_the_promise_kept_button_of_the_case_page(client, case, users):
    promise = _promise(case, users)
    client.force_login(users.agent)
    page = client.get(f"/travail/dossiers/{case.pk}/actions/").content.decode()
    url = f"/travail/dossiers/{case.pk}/promesse/{promise.pk}/tenue/"
    assert f'action="{url}"' in page

    response = client.post(url)

    assert response.status_code == 302
    promise.refresh_from_db()
    assert promise.status == PromiseStatus.KEPT


def test_the_promise_kept_url_of_another_case_is_not_found(client, case, users, reference):
    promise = _promise(case, users)
    other = make_case(structure=reference.cdop, reference="CALL-0002")
    client.force_login(users.agent)
    assert client.post(f"/travail/dossiers/{other.pk}/promesse/{promise.pk}/tenue/").status_code == 404
    promise.refresh_from_db()
    assert promise.status == PromiseStatus.PENDING
