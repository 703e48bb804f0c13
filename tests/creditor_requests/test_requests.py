"""Requests of the creditor to the agency with their contractual clocks (C33, C34, C43): deadlines, answers,
meeting slots and their confirmation, the clock on the requests page, tenant isolation."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages

from amiable.audit.models import AuditEvent
from amiable.core.exceptions import ApplicationError
from amiable.creditor_requests import hooks
from amiable.creditor_requests.models import CreditorRequest, MeetingSlot, RequestKind, RequestStatus
from amiable.creditor_requests.services import meeting_confirm, meeting_propose, request_answer, request_create
from amiable.creditors.models import ContractTerms
from amiable.notifications.models import Notification
from tests.factories import make_case

PARIS = ZoneInfo("Europe/Paris")
TUESDAY = datetime(2026, 11, 17, 10, 0, tzinfo=PARIS)
FRIDAY = datetime(2026, 11, 20, 10, 0, tzinfo=PARIS)


@pytest.fixture
def case(reference, users):
    reference.cpam.referent = users.supervisor
    reference.cpam.save()
    return make_case(structure=reference.csr, reference="DEM-0001", assigned_agent=users.agent)


@pytest.fixture
def statement_by_hand(monkeypatch):
    """No statement provider, as when the statement cannot be drawn up automatically: a statement request
    then stays open, on its clock, until the agency answers it by hand."""
    monkeypatch.setattr(hooks, "_statement_provider", None)


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def ask(kind, user, case=None, body="Merci de nous indiquer la situation."):
    return request_create(kind=kind, body=body, actor=user, case=case)


# --- deadlines --------------------------------------------------------------------------------------------


def test_statement_is_due_48_hours_later(case, users, statement_by_hand):
    with time_machine.travel(TUESDAY, tick=False):
        request = ask(RequestKind.STATEMENT, users.collaborator, case, body="")

    assert request.asked_at == TUESDAY
    assert request.due_at == TUESDAY + timedelta(hours=48)
    assert request.status == RequestStatus.OPEN
    assert request.creditor == case.creditor


def test_statement_delay_comes_from_the_contract_terms(reference, case, users):
    ContractTerms.objects.filter(creditor=reference.cpam).update(statement_hours=24, meeting_days=5)

    with time_machine.travel(TUESDAY, tick=False):
        statement = ask(RequestKind.STATEMENT, users.collaborator, case)
        meeting = ask(RequestKind.MEETING, users.collaborator)

    assert statement.due_at == TUESDAY + timedelta(hours=24)
    assert meeting.due_at == TUESDAY + timedelta(days=5)


def test_a_creditor_without_contract_terms_cannot_start_a_clock(reference, case, users):
    """No default delay: without terms the request is refused by name, and nothing is written."""
    ContractTerms.objects.filter(creditor=reference.cpam).delete()

    for kind, on_case in ((RequestKind.STATEMENT, case), (RequestKind.MEETING, None)):
        with pytest.raises(ApplicationError) as exc:
            ask(kind, users.collaborator, on_case)
        assert exc.value.message == (
            "Le créancier Caisse Primaire d'Assurance Maladie de Paris n'a pas de conditions contractuelles : "
            "renseignez-les dans l'administration."
        )

    assert not CreditorRequest.objects.exists()
    assert not AuditEvent.objects.filter(verb__startswith="request.").exists()
    assert not Notification.objects.exists()


def test_pages_show_the_delays_of_the_creditors_contract(client, reference, case, users):
    ContractTerms.objects.filter(creditor=reference.cpam).update(statement_hours=24, meeting_days=5)
    client.force_login(users.collaborator)

    requests_page = client.get("/demandes/").content.decode()
    case_page = client.get(f"/dossiers/{case.pk}/").content.decode()

    assert "décompte financier sous 24 h, réunion sous 5 jours" in requests_page
    assert "sous 5 jours ouvrés" in requests_page  # questions: not set by the contract
    assert "Décompte financier (sous 24 h)" in case_page
    for page in (requests_page, case_page):
        assert "48 h" not in page and "3 jours" not in page


def test_agency_staff_see_requests_of_several_creditors_without_one_contracts_figures(client, users):
    client.force_login(users.agent)

    page = client.get("/demandes/").content.decode()

    assert "Chaque demande a le délai du contrat de son créancier" in page
    assert "48 h" not in page and "3 jours" not in page


def test_meeting_is_due_3_days_later(case, users):
    with time_machine.travel(TUESDAY, tick=False):
        request = ask(RequestKind.MEETING, users.collaborator)

    assert request.case is None
    assert request.due_at == datetime(2026, 11, 20, 10, 0, tzinfo=PARIS)


def test_question_is_due_5_business_days_later(case, users):
    with time_machine.travel(TUESDAY, tick=False):
        request = ask(RequestKind.QUESTION, users.collaborator, case)

    assert request.due_at == datetime(2026, 11, 24, 10, 0, tzinfo=PARIS)


def test_question_asked_on_friday_skips_the_weekend(case, users):
    with time_machine.travel(FRIDAY, tick=False):
        request = ask(RequestKind.QUESTION, users.collaborator, case)

    # Mon 23, Tue 24, Wed 25, Thu 26, Fri 27.
    assert request.due_at == datetime(2026, 11, 27, 10, 0, tzinfo=PARIS)


def test_question_skips_public_holidays(case, users):
    with time_machine.travel(datetime(2026, 11, 6, 10, 0, tzinfo=PARIS), tick=False):
        request = ask(RequestKind.QUESTION, users.collaborator, case)

    # Mon 9, Tue 10, (Wed 11 Armistice), Thu 12, Fri 13, Mon 16.
    assert request.due_at == datetime(2026, 11, 16, 10, 0, tzinfo=PARIS)


def test_question_deadline_keeps_the_paris_hour_across_the_dst_change(case, users):
    with time_machine.travel(datetime(2026, 10, 23, 10, 0, tzinfo=PARIS), tick=False):
        request = ask(RequestKind.QUESTION, users.collaborator, case)

    assert request.due_at == datetime(2026, 10, 30, 10, 0, tzinfo=PARIS)
    assert request.due_at.astimezone(PARIS).hour == 10


def test_question_through_the_case_page_audits_and_notifies_the_agency(client, case, users):
    client.force_login(users.collaborator)

    with time_machine.travel(TUESDAY, tick=False):
        response = client.post(f"/dossiers/{case.pk}/demandes/", {"kind": "question", "body": "A-t-il répondu ?"})

    assert response.status_code == 302
    assert flash(response) == ["Demande transmise à l'agence."]
    request = CreditorRequest.objects.get()
    assert (request.kind, request.case, request.asked_by) == ("question", case, users.collaborator)
    assert request.due_at == datetime(2026, 11, 24, 10, 0, tzinfo=PARIS)
    event = AuditEvent.objects.get(verb="request.created")
    assert (event.actor, event.case_pk, event.creditor_pk) == (users.collaborator, case.pk, case.creditor_id)
    notes = Notification.objects.filter(kind="request_created")
    assert {n.recipient_id for n in notes} == {users.agent.pk, users.supervisor.pk}
    assert all(not n.urgent for n in notes)
    assert notes.first().title == (
        "Question sur la situation du débiteur sur le dossier DEM-0001 — réponse due le 24/11/2026 à 10:00"
    )


def test_statement_and_meeting_requests_are_urgent(case, users, statement_by_hand):
    ask(RequestKind.STATEMENT, users.collaborator, case)
    ask(RequestKind.MEETING, users.collaborator)

    statement_notes = Notification.objects.filter(kind="request_created", case_pk=case.pk)
    assert {n.recipient_id for n in statement_notes} == {users.agent.pk, users.supervisor.pk}
    assert all(n.urgent for n in statement_notes)
    meeting_note = Notification.objects.get(kind="request_created", case_pk__isnull=True)
    assert meeting_note.recipient == users.supervisor
    assert meeting_note.urgent


def test_request_refusals_write_nothing(reference, case, users):
    cdop_case = make_case(structure=reference.cdop, reference="DEM-CDOP")
    refusals = [
        (dict(kind="question", actor=users.agent, case=case), "Seul le personnel du créancier"),
        (dict(kind="question", actor=users.collaborator, case=None), "choisissez le dossier"),
        (dict(kind="statement", actor=users.collaborator, case=None), "choisissez le dossier"),
        (dict(kind="question", actor=users.csr_only, case=cdop_case), "Vous n'avez pas accès à ce dossier."),
        (dict(kind="question", actor=users.other_admin, case=case), "Vous n'avez pas accès à ce dossier."),
        (dict(kind="autre", actor=users.collaborator, case=case), "Type de demande inconnu"),
    ]
    for kwargs, message in refusals:
        with pytest.raises(ApplicationError) as exc:
            request_create(body="Texte", **kwargs)
        assert message in exc.value.message
    with pytest.raises(ApplicationError) as exc:
        request_create(kind="question", body="   ", actor=users.collaborator, case=case)
    assert exc.value.message == "Précisez votre demande."

    assert not CreditorRequest.objects.exists()
    assert not AuditEvent.objects.filter(verb__startswith="request.").exists()
    assert not Notification.objects.exists()


# --- answers ----------------------------------------------------------------------------------------------


def test_agency_answers_through_the_service(case, users):
    request = ask(RequestKind.QUESTION, users.collaborator, case)
    Notification.objects.all().delete()

    answered = request_answer(request=request, answer="  Le débiteur a payé.  ", actor=users.agent)

    answered.refresh_from_db()
    assert answered.status == RequestStatus.ANSWERED
    assert answered.answer == "Le débiteur a payé."
    assert answered.answered_by == users.agent
    assert answered.answered_at is not None
    event = AuditEvent.objects.get(verb="request.answered")
    assert event.actor == users.agent
    assert event.case_pk == case.pk
    assert event.creditor_pk == case.creditor_id
    assert event.after == {"answer": "Le débiteur a payé.", "late": False}
    note = Notification.objects.get()
    assert note.recipient == users.collaborator
    assert note.kind == "request_answered"
    assert note.title == "Réponse de l'agence : question sur la situation du débiteur"
    assert note.body == "Le débiteur a payé."


def test_agency_answers_through_the_view(client, case, users, statement_by_hand):
    request = ask(RequestKind.STATEMENT, users.approver, case)
    Notification.objects.all().delete()
    client.force_login(users.supervisor)

    response = client.post(f"/demandes/{request.pk}/reponse/", {"answer": "Décompte : 120,50 €"})

    assert response.status_code == 302
    assert response["Location"] == "/demandes/"
    assert flash(response) == ["Réponse envoyée."]
    request.refresh_from_db()
    assert request.status == RequestStatus.ANSWERED
    assert request.answer == "Décompte : 120,50 €"
    assert request.answered_by == users.supervisor
    assert AuditEvent.objects.filter(verb="request.answered", actor=users.supervisor).count() == 1
    assert list(Notification.objects.values_list("recipient_id", flat=True)) == [users.approver.pk]
    # The creditor reads the answer on the requests page and on the case page.
    client.force_login(users.approver)
    assert "Décompte : 120,50 €" in client.get("/demandes/?etat=traitees").content.decode()
    assert "Décompte : 120,50 €" in client.get(f"/dossiers/{case.pk}/").content.decode()


def test_late_answer_is_audited_as_late(case, users, statement_by_hand):
    with time_machine.travel(TUESDAY, tick=False):
        request = ask(RequestKind.STATEMENT, users.collaborator, case)
    with time_machine.travel(TUESDAY + timedelta(hours=49), tick=False):
        request_answer(request=request, answer="Décompte", actor=users.agent)

    assert AuditEvent.objects.get(verb="request.answered").after["late"] is True


def test_creditor_cannot_answer(client, case, users):
    request = ask(RequestKind.QUESTION, users.collaborator, case)

    with pytest.raises(ApplicationError) as exc:
        request_answer(request=request, answer="Je réponds moi-même", actor=users.creditor_admin)
    assert exc.value.message == "Seule l'agence répond aux demandes du créancier."

    client.force_login(users.creditor_admin)
    response = client.post(f"/demandes/{request.pk}/reponse/", {"answer": "Je réponds moi-même"})
    assert response.status_code == 302
    assert flash(response) == ["Seule l'agence répond aux demandes du créancier."]

    request.refresh_from_db()
    assert request.status == RequestStatus.OPEN
    assert request.answer == ""
    assert not AuditEvent.objects.filter(verb="request.answered").exists()


def test_answer_refusals(case, users):
    request = ask(RequestKind.QUESTION, users.collaborator, case)
    meeting = ask(RequestKind.MEETING, users.collaborator)

    with pytest.raises(ApplicationError) as exc:
        request_answer(request=request, answer="   ", actor=users.agent)
    assert exc.value.message == "La réponse est vide."
    with pytest.raises(ApplicationError) as exc:
        request_answer(request=meeting, answer="Mardi ?", actor=users.agent)
    assert exc.value.message == "Une demande de réunion se traite en proposant des créneaux."
    assert not AuditEvent.objects.filter(verb="request.answered").exists()

    request_answer(request=request, answer="Réponse", actor=users.agent)
    with pytest.raises(ApplicationError) as exc:
        request_answer(request=request, answer="Seconde réponse", actor=users.supervisor)
    assert exc.value.message == "Cette demande est déjà traitée."
    request.refresh_from_db()
    assert request.answer == "Réponse"
    assert request.answered_by == users.agent
    assert AuditEvent.objects.filter(verb="request.answered").count() == 1


# --- meetings ---------------------------------------------------------------------------------------------


def test_meeting_request_through_the_requests_page(client, reference, users):
    reference.cpam.referent = users.supervisor
    reference.cpam.save()
    client.force_login(users.collaborator)

    with time_machine.travel(TUESDAY, tick=False):
        response = client.post("/demandes/", {"body": "Point trimestriel"})

    assert response.status_code == 302
    assert flash(response) == [
        "Demande de réunion transmise : l'agence propose des créneaux au plus tard le 20/11/2026 à 10:00."
    ]
    request = CreditorRequest.objects.get()
    assert (request.kind, request.case, request.body) == ("meeting", None, "Point trimestriel")
    assert request.due_at == TUESDAY + timedelta(days=3)


def test_slots_beyond_the_contractual_delay_or_past_are_refused(case, users):
    with time_machine.travel(TUESDAY, tick=False):
        request = ask(RequestKind.MEETING, users.collaborator)
        Notification.objects.all().delete()

        with pytest.raises(ApplicationError) as exc:
            meeting_propose(request=request, slots=[TUESDAY + timedelta(days=3, minutes=1)], actor=users.agent)
        assert exc.value.message == (
            "Le créneau du 20/11/2026 à 10:01 dépasse le délai contractuel "
            "(réunion au plus tard le 20/11/2026 à 10:00)."
        )
        with pytest.raises(ApplicationError) as exc:
            meeting_propose(request=request, slots=[TUESDAY - timedelta(hours=1)], actor=users.agent)
        assert exc.value.message == "Le créneau du 17/11/2026 à 09:00 est passé."
        # One bad slot among good ones: none is stored.
        with pytest.raises(ApplicationError) as exc:
            meeting_propose(
                request=request,
                slots=[TUESDAY + timedelta(days=1), TUESDAY + timedelta(days=4)],
                actor=users.agent,
            )
        assert "dépasse le délai contractuel" in exc.value.message
        with pytest.raises(ApplicationError) as exc:
            meeting_propose(request=request, slots=[], actor=users.agent)
        assert exc.value.message == "Proposez au moins un créneau."

    assert not MeetingSlot.objects.exists()
    assert not AuditEvent.objects.filter(verb="meeting.slots_proposed").exists()
    assert not Notification.objects.exists()


def test_slots_through_the_view_refused_with_the_french_message(client, case, users):
    with time_machine.travel(TUESDAY, tick=False):
        request = ask(RequestKind.MEETING, users.collaborator)
        client.force_login(users.agent)
        response = client.post(f"/demandes/{request.pk}/creneaux/", {"slot1": "2026-11-24T14:00"})
        html = client.get("/demandes/").content.decode()

    assert response.status_code == 302
    assert flash(response) == []  # the refusal comes back with the slots form on the requests page
    assert "dépasse le délai contractuel" in html
    assert not MeetingSlot.objects.exists()


def test_only_the_agency_proposes_slots_and_only_for_meetings(case, users):
    with time_machine.travel(TUESDAY, tick=False):
        meeting = ask(RequestKind.MEETING, users.collaborator)
        question = ask(RequestKind.QUESTION, users.collaborator, case)
        soon = TUESDAY + timedelta(days=1)
        with pytest.raises(ApplicationError) as exc:
            meeting_propose(request=meeting, slots=[soon], actor=users.creditor_admin)
        assert exc.value.message == "Seule l'agence répond aux demandes du créancier."
        with pytest.raises(ApplicationError) as exc:
            meeting_propose(request=question, slots=[soon], actor=users.agent)
        assert exc.value.message == "Seule une demande de réunion appelle des créneaux."

    assert not MeetingSlot.objects.exists()


def test_valid_slots_then_creditor_confirms_one(client, case, users):
    with time_machine.travel(TUESDAY, tick=False):
        request = ask(RequestKind.MEETING, users.collaborator)
        Notification.objects.all().delete()
        client.force_login(users.agent)
        response = client.post(
            f"/demandes/{request.pk}/creneaux/",
            {"slot1": "2026-11-18T14:00", "slot2": "2026-11-19T09:30", "slot3": ""},
        )
        assert response.status_code == 302
        assert flash(response) == ["Créneaux proposés."]

        slots = list(MeetingSlot.objects.filter(request=request).order_by("starts_at"))
        assert [s.starts_at for s in slots] == [
            datetime(2026, 11, 18, 14, 0, tzinfo=PARIS),
            datetime(2026, 11, 19, 9, 30, tzinfo=PARIS),
        ]
        assert all(s.proposed_by == users.agent and not s.confirmed for s in slots)
        assert AuditEvent.objects.filter(verb="meeting.slots_proposed", actor=users.agent).count() == 1
        proposed = Notification.objects.get(kind="meeting_slots")
        assert proposed.recipient == users.collaborator

        # The creditor sees the slots with a button for each.
        client.force_login(users.approver)
        html = client.get("/demandes/").content.decode()
        assert "18/11/2026 à 14:00" in html
        for slot in slots:
            assert f'action="/demandes/creneaux/{slot.pk}/confirmation/"' in html

        # Any of the creditor's staff may confirm; here another colleague than the asker.
        response = client.post(f"/demandes/creneaux/{slots[1].pk}/confirmation/")

    assert response.status_code == 302
    assert flash(response) == ["Réunion confirmée."]
    request.refresh_from_db()
    assert request.status == RequestStatus.ANSWERED
    assert request.meeting_at == datetime(2026, 11, 19, 9, 30, tzinfo=PARIS)
    assert request.answered_by == users.approver
    assert list(MeetingSlot.objects.filter(confirmed=True)) == [slots[1]]
    assert AuditEvent.objects.filter(verb="meeting.confirmed", actor=users.approver).count() == 1
    confirmed = Notification.objects.filter(kind="meeting_confirmed")
    assert {n.recipient_id for n in confirmed} == {users.agent.pk, users.supervisor.pk}
    assert confirmed.first().title == "Réunion confirmée le 19/11/2026 à 09:30"


def test_confirmation_refusals(case, users):
    with time_machine.travel(TUESDAY, tick=False):
        request = ask(RequestKind.MEETING, users.collaborator)
        first, second = meeting_propose(
            request=request, slots=[TUESDAY + timedelta(days=1), TUESDAY + timedelta(days=2)], actor=users.agent
        )

        with pytest.raises(ApplicationError) as exc:
            meeting_confirm(slot=first, actor=users.agent)
        assert exc.value.message == "Seul le créancier confirme la date de la réunion."
        with pytest.raises(ApplicationError) as exc:
            meeting_confirm(slot=first, actor=users.other_admin)
        assert exc.value.message == "Seul le créancier confirme la date de la réunion."
        request.refresh_from_db()
        assert request.status == RequestStatus.OPEN

        meeting_confirm(slot=first, actor=users.collaborator)
        with pytest.raises(ApplicationError) as exc:
            meeting_confirm(slot=second, actor=users.collaborator)
        assert exc.value.message == "Cette demande de réunion est déjà traitée."

    request.refresh_from_db()
    assert request.meeting_at == first.starts_at
    assert list(MeetingSlot.objects.filter(confirmed=True)) == [first]
    assert AuditEvent.objects.filter(verb="meeting.confirmed").count() == 1


# --- the clock on the requests page -----------------------------------------------------------------------


def get_at(client, user, moment, path: str):
    """The page as `user` sees it at `moment` (logged in then: sessions expire after 30 idle minutes)."""
    with time_machine.travel(moment, tick=False):
        client.force_login(user)
        response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_requests_page_shows_the_clock_and_late_requests_in_red(client, case, users, statement_by_hand):
    with time_machine.travel(TUESDAY, tick=False):
        statement = ask(RequestKind.STATEMENT, users.collaborator, case, body="Décompte urgent")
    with time_machine.travel(TUESDAY + timedelta(days=1), tick=False):
        question = ask(RequestKind.QUESTION, users.collaborator, case, body="Situation ?")

    html = get_at(client, users.agent, TUESDAY + timedelta(hours=2), "/demandes/")
    assert '<span class="clock">(reste 1 j 22 h)</span>' in html
    assert "clock late" not in html

    late = TUESDAY + timedelta(hours=51, minutes=30)
    html = get_at(client, users.agent, late, "/demandes/")
    assert '<span class="clock late">(en retard de 3 h 30)</span>' in html
    assert html.count("clock late") == 1
    # The question asked a day later is still within its 5 business days.
    assert '<span class="clock">(reste ' in html
    assert f'action="/demandes/{statement.pk}/reponse/"' in html
    assert f'action="/demandes/{question.pk}/reponse/"' in html

    # The creditor sees the same clock, without the answer form.
    html = get_at(client, users.collaborator, late, "/demandes/")
    assert '<span class="clock late">(en retard de 3 h 30)</span>' in html
    assert "/reponse/" not in html


def test_answered_requests_show_whether_the_clock_was_met(client, case, users, statement_by_hand):
    with time_machine.travel(TUESDAY, tick=False):
        in_time = ask(RequestKind.STATEMENT, users.collaborator, case)
        late = ask(RequestKind.QUESTION, users.collaborator, case, body="Situation ?")
        request_answer(request=in_time, answer="Décompte envoyé", actor=users.agent)
    with time_machine.travel(TUESDAY + timedelta(days=8), tick=False):
        request_answer(request=late, answer="Réponse tardive", actor=users.agent)

    for path in ("/demandes/?etat=traitees", f"/dossiers/{case.pk}/"):
        html = get_at(client, users.collaborator, TUESDAY + timedelta(days=10), path)
        assert "Décompte envoyé" in html and "Réponse tardive" in html
        # No countdown any more: whether each answer came within its clock.
        assert '">reste ' not in html and "en retard de" not in html
        assert html.count('<span class="clock">') == 1 and html.count('<span class="clock late">') == 1
        assert ("délai respecté" in html) or ("Délai respecté" in html)
        assert ("hors délai" in html) or ("Hors délai" in html)
    in_time.refresh_from_db()
    late.refresh_from_db()
    assert (in_time.answered_in_time, late.answered_in_time) == (True, False)


def test_case_page_shows_the_clock(client, case, users, statement_by_hand):
    with time_machine.travel(TUESDAY, tick=False):
        ask(RequestKind.STATEMENT, users.collaborator, case)

    html = get_at(client, users.agent, TUESDAY + timedelta(hours=50), f"/dossiers/{case.pk}/")

    assert '<span class="clock late">en retard de 2 h</span>' in html


# --- isolation --------------------------------------------------------------------------------------------


def test_other_creditor_sees_none_and_gets_404_everywhere(client, case, users):
    with time_machine.travel(TUESDAY, tick=False):
        question = ask(RequestKind.QUESTION, users.collaborator, case, body="QUESTION-CPAM")
        meeting = ask(RequestKind.MEETING, users.collaborator, body="REUNION-CPAM")
        (slot,) = meeting_propose(request=meeting, slots=[TUESDAY + timedelta(days=1)], actor=users.agent)
        client.force_login(users.other_admin)

        html = client.get("/demandes/").content.decode()
        assert "QUESTION-CPAM" not in html
        assert "REUNION-CPAM" not in html
        assert "Aucune demande en cours." in html

        assert client.post(f"/demandes/{question.pk}/reponse/", {"answer": "x"}).status_code == 404
        assert client.post(f"/demandes/{meeting.pk}/creneaux/", {"slot1": "2026-11-18T14:00"}).status_code == 404
        assert client.post(f"/demandes/creneaux/{slot.pk}/confirmation/").status_code == 404

    question.refresh_from_db()
    meeting.refresh_from_db()
    assert question.status == meeting.status == RequestStatus.OPEN
    assert MeetingSlot.objects.count() == 1
    assert not MeetingSlot.objects.filter(confirmed=True).exists()


def test_structure_limited_user_does_not_see_requests_on_other_structures(client, reference, users):
    cdop_case = make_case(structure=reference.cdop, reference="DEM-CDOP")
    ask(RequestKind.QUESTION, users.collaborator, cdop_case, body="QUESTION-CDOP")
    ask(RequestKind.MEETING, users.collaborator, body="REUNION-GENERALE")
    client.force_login(users.csr_only)

    html = client.get("/demandes/").content.decode()

    assert "QUESTION-CDOP" not in html
    assert "REUNION-GENERALE" in html  # a meeting concerns the whole creditor
