"""Case work (C9, C12, C29, C30, L8, L10): calls and promises, events and what they stop, returned mail and
address investigations, do-not-contact; the « Actions » card of the case page and its URLs, for agency
staff only."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.utils import timezone

from amiable.audit.models import AuditEvent
from amiable.cases.models import Action, Case, CaseEvent, ContactPoint, Debtor, Task
from amiable.cases.selectors import case_timeline
from amiable.cases.services import case_transition, contact_point_add, debtor_do_not_contact_set
from amiable.casework.services import cases_reassign, event_record, investigation_record, returned_mail_record
from amiable.contact.models import CallRecord, PromiseStatus, PromiseToPay
from amiable.contact.services import call_record, promises_check
from amiable.core.exceptions import ApplicationError
from amiable.core.money import format_money
from amiable.notifications.models import Notification
from tests.factories import make_case, pay_in_full
from tests.web.test_views import assert_every_control_labelled, assert_no_inline_code, parse
from tests.work_fixtures import first_letter_sent

PARIS = ZoneInfo("Europe/Paris")
TUESDAY_11 = datetime(2026, 7, 7, 11, 0, tzinfo=PARIS)
PHONE = "+33612345678"
OTHER_PHONE = "+33698765432"
NOTES = "NOTE-INTERNE-SECRETE : le débiteur pleure au téléphone"


@pytest.fixture
def case(reference, users):
    """A CDOP case of the agent, with a known address and two phones."""
    reference.cpam.referent = users.supervisor
    reference.cpam.save()
    case = make_case(structure=reference.cdop, reference="WRK-0001", assigned_agent=users.agent, principal="300.00")
    for value in (PHONE, OTHER_PHONE):
        contact_point_add(
            debtor=case.debtor, kind="phone", value=value, quality="valid", source="Fichier du créancier", actor=None
        )
    first_letter_sent(case)
    case.refresh_from_db()
    return case


def open_task(case, kind, due_on=None) -> Task:
    return Task.objects.create(case=case, kind=kind, reason="test", due_on=due_on)


def address(case) -> ContactPoint:
    return ContactPoint.objects.get(debtor=case.debtor, kind="address")


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def nothing_written(case) -> tuple:
    return (
        Action.objects.filter(case=case).count(),
        CaseEvent.objects.filter(case=case).count(),
        PromiseToPay.objects.filter(case=case).count(),
        Task.objects.filter(case=case).exclude(status="open").count(),
        Notification.objects.count(),
        AuditEvent.objects.filter(case_pk=case.pk).count(),
    )


# --- calls and promises -------------------------------------------------------------------------------


def test_call_is_recorded_and_its_notes_stay_inside_the_agency(case, users):
    call = call_record(
        case=case, actor=users.agent, number=PHONE, outcome="reached", notes=f"  {NOTES}  ", at=TUESDAY_11
    )

    assert call.action.case == case
    assert call.action.channel == "call"
    assert call.action.at == TUESDAY_11
    assert call.action.actor == users.agent
    assert call.number == PHONE
    assert call.direction == "out"
    assert call.notes == NOTES
    assert NOTES not in call.action.summary
    event = AuditEvent.objects.get(verb="call.recorded")
    assert event.case_pk == case.pk
    assert event.actor == users.agent
    assert event.after == {"outcome": "reached", "direction": "out", "first_letter": "L-2026-000001"}
    assert not [e for e in AuditEvent.objects.all() if "NOTE-INTERNE" in str(e.after) + str(e.before)]
    assert not PromiseToPay.objects.exists()


def test_call_with_a_promise_to_pay(case, users):
    call = call_record(
        case=case,
        actor=users.agent,
        number=PHONE,
        outcome="promise",
        promise_amount="150,00",
        promise_due_on=date(2026, 7, 20),
        at=TUESDAY_11,
    )

    promise = PromiseToPay.objects.get(case=case)
    assert promise.action == call.action
    assert promise.amount == Decimal("150.00")
    assert promise.due_on == date(2026, 7, 20)
    assert promise.status == PromiseStatus.PENDING
    assert AuditEvent.objects.get(verb="promise.recorded").after == {"amount": "150.00", "due_on": "2026-07-20"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"outcome": "bavardage"}, "Résultat d'appel inconnu : « bavardage »."),
        ({"direction": "side"}, "Sens d'appel inconnu : « side »."),
        ({"number": "  "}, "Indiquez le numéro appelé."),
        ({"promise_amount": "10.00"}, "Une promesse de paiement demande un montant et une date."),
        ({"promise_due_on": date(2026, 7, 20)}, "Une promesse de paiement demande un montant et une date."),
        (
            {"promise_amount": "0", "promise_due_on": date(2026, 7, 20)},
            f"Le montant promis doit être d'au moins {format_money(Decimal('0.01'))}.",
        ),
        (
            {"promise_amount": "300.01", "promise_due_on": date(2026, 7, 20)},
            f"Le montant promis ({format_money(Decimal('300.01'))}) dépasse le reste dû "
            f"({format_money(Decimal('300.00'))}).",
        ),
        (
            {"promise_amount": "10.00", "promise_due_on": date(2026, 7, 6)},
            "La date promise est antérieure à l'appel.",
        ),
        ({"at": datetime(2030, 1, 8, 11, 0, tzinfo=PARIS)}, "La date de l'appel est dans le futur."),
    ],
)
def test_bad_call_is_refused_with_a_french_message_and_writes_nothing(case, users, extra, message):
    before = nothing_written(case)
    promised = any(key.startswith("promise") for key in extra)
    kwargs = {"number": PHONE, "outcome": "promise" if promised else "reached", "at": TUESDAY_11, **extra}

    with pytest.raises(ApplicationError) as error:
        call_record(case=case, actor=users.agent, **kwargs)

    assert error.value.message == message
    assert nothing_written(case) == before
    assert not CallRecord.objects.exists()


def test_only_agency_staff_record_calls(case, users):
    with pytest.raises(ApplicationError) as error:
        call_record(case=case, actor=users.creditor_admin, number=PHONE, outcome="reached", at=TUESDAY_11)
    assert error.value.message == "Seule l'agence peut enregistrer un appel."
    assert not Action.objects.filter(channel="call").exists()


def test_wrong_number_invalidates_that_phone_only(case, users):
    call_record(case=case, actor=users.agent, number="06 12 34 56 78", outcome="wrong_number", at=TUESDAY_11)

    phones = {p.value: p for p in ContactPoint.objects.filter(debtor=case.debtor, kind="phone")}
    assert phones[PHONE].quality == "invalid"
    assert phones[PHONE].invalid_since is not None
    assert phones[OTHER_PHONE].quality == "valid"
    change = AuditEvent.objects.get(verb="contact_point.quality_changed")
    assert change.case_pk == case.pk
    assert change.after == {"quality": "invalid"}


def test_broken_promise_is_flagged_once_with_a_callback_task(case, users):
    call_record(
        case=case,
        actor=users.agent,
        number=PHONE,
        outcome="promise",
        promise_amount="50.00",
        promise_due_on=date(2026, 7, 20),
        at=TUESDAY_11,
    )
    due_today = PromiseToPay.objects.create(case=case, amount=Decimal("10.00"), due_on=date(2026, 7, 21))

    assert promises_check(today=date(2026, 7, 20)) == 0  # the day itself: still time to pay
    flagged = promises_check(today=date(2026, 7, 21))
    again = promises_check(today=date(2026, 7, 21))

    assert (flagged, again) == (1, 0)
    broken = PromiseToPay.objects.get(due_on=date(2026, 7, 20))
    assert broken.status == PromiseStatus.BROKEN
    due_today.refresh_from_db()
    assert due_today.status == PromiseStatus.PENDING
    assert AuditEvent.objects.filter(verb="promise.broken", case_pk=case.pk).count() == 1
    [task] = Task.objects.filter(case=case, kind="callback")
    assert task.status == "open"
    assert task.due_on == date(2026, 7, 21)
    assert task.reason == f"Promesse de {format_money(Decimal('50.00'))} pour le 20/07/2026 non tenue"
    assert task.case.assigned_agent == users.agent
    # A second broken promise of the same case reuses the open callback task.
    PromiseToPay.objects.create(case=case, amount=Decimal("5.00"), due_on=date(2026, 7, 22))
    assert promises_check(today=date(2026, 7, 25)) == 2
    assert Task.objects.filter(case=case, kind="callback").count() == 1


def test_promises_of_a_suspended_case_are_not_chased(case, users):
    PromiseToPay.objects.create(case=case, amount=Decimal("10.00"), due_on=date(2026, 7, 1))
    case_transition(case=case, to="suspended", actor=users.supervisor, reason="Attente")

    assert promises_check(today=date(2026, 8, 1)) == 0
    assert PromiseToPay.objects.get(case=case).status == PromiseStatus.PENDING
    assert not Task.objects.filter(case=case, kind="callback").exists()


def test_broken_promise_of_a_payment_plan_case_opens_no_callback_the_policy_would_refuse(case, users):
    PromiseToPay.objects.create(case=case, amount=Decimal("10.00"), due_on=date(2026, 7, 1))
    case_transition(case=case, to="payment_plan", actor=users.supervisor, reason="Plan")

    assert promises_check(today=date(2026, 8, 1)) == 1
    assert PromiseToPay.objects.get(case=case).status == PromiseStatus.BROKEN
    assert not Task.objects.filter(case=case, kind="callback").exists()


# --- events -------------------------------------------------------------------------------------------


def test_over_indebtedness_admissible_suspends_tells_the_creditor_and_stops_everything(
    case, users, mailoutbox, django_capture_on_commit_callbacks
):
    call_task = open_task(case, "call", date(2026, 11, 1))
    investigation = open_task(case, "address_investigation", date(2026, 11, 1))
    promise = PromiseToPay.objects.create(case=case, amount=Decimal("10.00"), due_on=date(2026, 12, 1))

    with django_capture_on_commit_callbacks(execute=True):
        event = event_record(
            case=case,
            kind="oi_admissible",
            occurred_on=date(2026, 11, 2),
            details="Commission de Paris, dossier n° 75-123",
            actor=users.agent,
        )

    case.refresh_from_db()
    assert case.status == "suspended"
    assert event.kind == "oi_admissible"
    assert event.recorded_by == users.agent
    for task in (call_task, investigation):
        task.refresh_from_db()
        assert task.status == "cancelled"
        assert task.closed_at is not None
    [contest] = Task.objects.filter(case=case, status="open")
    assert contest.kind == "contest_debts"
    assert contest.due_on == date(2026, 12, 2)  # occurred_on + 30 days
    promise.refresh_from_db()
    assert promise.status == PromiseStatus.PENDING  # left as it is; never chased on a suspended case
    # The creditor's staff who see CDOP, and the référent, are told at once, urgently, by e-mail too.
    notes = Notification.objects.filter(kind="case_event", case_pk=case.pk)
    expected = {users.collaborator, users.approver, users.creditor_admin, users.supervisor}
    assert {n.recipient for n in notes} == expected
    assert all(n.urgent for n in notes)
    assert notes.first().title == "Dossier WRK-0001 : dossier de surendettement déclaré recevable"
    assert {m.to[0] for m in mailoutbox} == {u.email for u in expected}
    assert all("surendettement" in m.subject for m in mailoutbox)
    audit = AuditEvent.objects.get(verb="case.event_recorded")
    assert audit.case_pk == case.pk
    assert audit.after["kind"] == "oi_admissible"
    assert audit.after["tasks_cancelled"] == 2
    assert AuditEvent.objects.filter(verb="case.status_changed", case_pk=case.pk).exclude(actor=None).count() == 1
    # No action any more: the call is refused.
    with pytest.raises(ApplicationError) as error:
        call_record(case=case, actor=users.agent, number=PHONE, outcome="reached", at=TUESDAY_11)
    assert error.value.message.startswith("Appel refusé par la politique de contact : ")


def test_death_suspends_and_cancels_the_calls(case, users):
    call_task = open_task(case, "call")
    review = open_task(case, "review")

    event_record(case=case, kind="death", occurred_on=date(2026, 11, 2), details="", actor=users.agent)

    case.refresh_from_db()
    assert case.status == "suspended"
    call_task.refresh_from_db()
    review.refresh_from_db()
    assert (call_task.status, review.status) == ("cancelled", "open")
    assert Notification.objects.filter(kind="case_event", urgent=True, recipient=users.approver).exists()


def test_dispute_notifies_without_changing_the_status(case, users):
    event_record(case=case, kind="dispute", occurred_on=date(2026, 11, 2), details="Conteste", actor=users.agent)

    case.refresh_from_db()
    assert case.status == "in_progress"
    assert Notification.objects.filter(kind="case_event", urgent=True, recipient=users.collaborator).exists()


def test_vulnerability_is_recorded_for_the_agency_only(client, case, users):
    event_record(
        case=case, kind="vulnerability", occurred_on=date(2026, 11, 2), details="VULNERABLE-SECRET", actor=users.agent
    )

    assert CaseEvent.objects.filter(case=case, kind="vulnerability").exists()
    assert not Notification.objects.exists()
    assert not AuditEvent.objects.filter(verb="case.event_recorded").exists()
    assert AuditEvent.objects.filter(verb="case.internal_event_recorded", case_pk=case.pk).exists()
    client.force_login(users.collaborator)
    assert "VULNERABLE-SECRET" not in client.get(f"/dossiers/{case.pk}/").content.decode()


@pytest.mark.parametrize(
    ("kind", "occurred_on", "message"),
    [
        ("fin_du_monde", date(2026, 11, 2), "Événement inconnu : « fin_du_monde »."),
        ("death", date(2030, 1, 1), "La date de l'événement est dans le futur."),
        (
            "returned_mail",
            date(2026, 11, 2),
            "Un courrier revenu s'enregistre avec « Courrier revenu (NPAI) » sur l'adresse.",
        ),
    ],
)
def test_bad_event_is_refused(case, users, kind, occurred_on, message):
    before = nothing_written(case)
    with pytest.raises(ApplicationError) as error:
        event_record(case=case, kind=kind, occurred_on=occurred_on, details="", actor=users.agent)
    assert error.value.message == message
    assert nothing_written(case) == before


def test_no_event_on_an_ended_case(case, users):
    pay_in_full(case, actor=users.agent)
    before = nothing_written(case)
    with pytest.raises(ApplicationError) as error:
        event_record(case=case, kind="death", occurred_on=date(2026, 11, 2), details="", actor=users.agent)
    assert error.value.message == "Le dossier WRK-0001 est terminé (soldé) : aucun événement ne peut être enregistré."
    assert nothing_written(case) == before


# --- returned mail and investigations -----------------------------------------------------------------


def test_returned_mail_invalidates_the_address_and_opens_one_investigation(case, users):
    first = address(case)
    second = contact_point_add(
        debtor=case.debtor, kind="address", line1="2 rue B", postal_code="75011", city="Paris", source="x", actor=None
    )

    done = returned_mail_record(case=case, actor=users.agent, point=first)
    again = returned_mail_record(case=case, actor=users.agent, point=second)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.quality, second.quality) == ("invalid", "invalid")
    assert CaseEvent.objects.filter(case=case, kind="returned_mail").count() == 2
    [task] = Task.objects.filter(case=case, kind="address_investigation")
    assert task.status == "open"
    assert (done.task, done.task_created, again.task, again.task_created) == (task, True, task, False)
    assert AuditEvent.objects.filter(verb="returned_mail.recorded", case_pk=case.pk).count() == 2


def test_returned_mail_refuses_a_phone_or_another_debtors_address(case, users, reference):
    phone = ContactPoint.objects.filter(debtor=case.debtor, kind="phone").first()
    stranger = make_case(structure=reference.cdop)
    before = nothing_written(case)
    with pytest.raises(ApplicationError) as error:
        returned_mail_record(case=case, actor=users.agent, point=phone)
    assert error.value.message == "Seule une adresse postale peut faire l'objet d'un courrier revenu."
    with pytest.raises(ApplicationError) as error:
        returned_mail_record(case=case, actor=users.agent, point=address(stranger))
    assert error.value.message == "Cette adresse n'est pas celle du débiteur du dossier WRK-0001."
    assert nothing_written(case) == before


def test_investigation_closes_the_task_and_swaps_the_addresses(case, users):
    old = address(case)
    task = open_task(case, "address_investigation")

    new = investigation_record(
        task=task,
        actor=users.agent,
        sources="Annuaire, mairie",
        result="Nouvelle adresse confirmée par la mairie",
        new_address={"line1": "  12 rue Neuve ", "postal_code": "75010", "city": "Paris"},
    )

    task.refresh_from_db()
    old.refresh_from_db()
    assert task.status == "done"
    assert task.closed_at is not None
    assert old.quality == "invalid"
    assert (new.line1, new.postal_code, new.city, new.country) == ("12 rue Neuve", "75010", "Paris", "FR")
    assert new.quality == "valid"
    assert new.is_primary is True
    assert new.source == "Recherche d'adresse : Annuaire, mairie"
    audit = AuditEvent.objects.get(verb="investigation.done")
    assert audit.case_pk == case.pk
    assert audit.after["sources"] == "Annuaire, mairie"
    assert audit.after["result"] == "Nouvelle adresse confirmée par la mairie"


def test_investigation_without_result_address_leaves_addresses_alone(case, users):
    task = open_task(case, "address_investigation")
    assert (
        investigation_record(task=task, actor=users.agent, sources="Annuaire", result="Rien", new_address=None) is None
    )
    assert address(case).quality == "valid"
    task.refresh_from_db()
    assert task.status == "done"

    with pytest.raises(ApplicationError) as error:
        investigation_record(task=task, actor=users.agent, sources="Annuaire", result="Rien", new_address=None)
    assert error.value.message == "Cette recherche d'adresse est déjà close (fait)."


@pytest.mark.parametrize(
    ("sources", "result", "new_address", "message"),
    [
        ("", "Rien", None, "Indiquez les sources consultées."),
        ("Annuaire", " ", None, "Indiquez le résultat de la recherche."),
        (
            "Annuaire",
            "Trouvée",
            {"line1": "12 rue Neuve"},
            "La nouvelle adresse doit comporter une adresse, un code postal et une ville.",
        ),
    ],
)
def test_bad_investigation_is_refused_and_writes_nothing(case, users, sources, result, new_address, message):
    task = open_task(case, "address_investigation")
    before = (nothing_written(case), ContactPoint.objects.count())
    with pytest.raises(ApplicationError) as error:
        investigation_record(task=task, actor=users.agent, sources=sources, result=result, new_address=new_address)
    assert error.value.message == message
    task.refresh_from_db()
    assert task.status == "open"
    assert (nothing_written(case), ContactPoint.objects.count()) == before


def test_do_not_contact_is_audited_once(case, users):
    debtor_do_not_contact_set(debtor=case.debtor, actor=users.agent, value=True, case=case)
    debtor_do_not_contact_set(debtor=case.debtor, actor=users.agent, value=True, case=case)

    assert Debtor.objects.get(pk=case.debtor_id).do_not_contact is True
    [event] = AuditEvent.objects.filter(verb="debtor.do_not_contact_set")
    assert (event.case_pk, event.before, event.after) == (case.pk, {"do_not_contact": False}, {"do_not_contact": True})


@pytest.mark.parametrize("who", ["collaborator", "creditor_admin", "other_admin"])
def test_the_services_refuse_creditor_staff_themselves_and_write_nothing(case, users, who):
    """Not only the pages: whatever calls them (a command, the coming API), the services refuse."""
    actor = getattr(users, who)
    task = open_task(case, "address_investigation")
    before = nothing_written(case), Case.objects.get(pk=case.pk).status, ContactPoint.objects.count()
    refusals = [
        (
            lambda: event_record(case=case, kind="death", occurred_on=date(2026, 7, 1), details="", actor=actor),
            "Seule l'agence peut enregistrer un événement.",
        ),
        (
            lambda: returned_mail_record(case=case, actor=actor, point=address(case)),
            "Seule l'agence peut enregistrer un courrier revenu.",
        ),
        (
            lambda: investigation_record(task=task, actor=actor, sources="Annuaire", result="Rien trouvé"),
            "Seule l'agence peut enregistrer une recherche d'adresse.",
        ),
        (
            lambda: debtor_do_not_contact_set(debtor=case.debtor, actor=actor, value=True, case=case),
            "Seule l'agence peut modifier l'opposition aux contacts.",
        ),
        (
            lambda: cases_reassign(case_ids=[case.pk], agent=users.supervisor, actor=actor),
            "Seuls les superviseurs et administrateurs de l'agence peuvent réattribuer des dossiers.",
        ),
    ]
    for service, message in refusals:
        with pytest.raises(ApplicationError) as error:
            service()
        assert error.value.message == message

    assert (nothing_written(case), Case.objects.get(pk=case.pk).status, ContactPoint.objects.count()) == before
    assert Task.objects.get(pk=task.pk).status == "open"
    assert Case.objects.get(pk=case.pk).assigned_agent == users.agent
    assert Debtor.objects.get(pk=case.debtor_id).do_not_contact is False


def test_an_agent_may_not_reassign_nor_give_a_case_to_a_creditors_user(case, users):
    with pytest.raises(ApplicationError) as error:
        cases_reassign(case_ids=[case.pk], agent=users.supervisor, actor=users.agent)
    assert (
        error.value.message == "Seuls les superviseurs et administrateurs de l'agence peuvent réattribuer des dossiers."
    )
    with pytest.raises(ApplicationError) as error:
        cases_reassign(case_ids=[case.pk], agent=users.collaborator, actor=users.supervisor)
    assert error.value.message == "Un dossier ne peut être confié qu'à un membre actif de l'agence."

    assert Case.objects.get(pk=case.pk).assigned_agent == users.agent
    assert not AuditEvent.objects.filter(verb="case.assigned", case_pk=case.pk).exists()


# --- the « Actions » card and its URLs ----------------------------------------------------------------


def card_url(case) -> str:
    return f"/travail/dossiers/{case.pk}/actions/"


def test_case_page_has_the_actions_card_for_agency_staff_only(client, case, users):
    client.force_login(users.agent)
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert 'id="actions-titre"' in html
    assert f'hx-get="{card_url(case)}"' in html
    assert f'href="{card_url(case)}"' in html  # works without JavaScript too

    for creditor_user in (users.collaborator, users.creditor_admin):
        client.force_login(creditor_user)
        html = client.get(f"/dossiers/{case.pk}/").content.decode()
        assert 'id="actions-titre"' not in html
        assert "/travail/" not in html


def test_card_fragment_and_page_have_labelled_forms_and_no_inline_code(client, case, users):
    open_task(case, "address_investigation")
    client.force_login(users.agent)

    fragment = client.get(card_url(case), headers={"HX-Request": "true"})
    page = client.get(card_url(case))

    assert fragment.status_code == page.status_code == 200
    html = fragment.content.decode()
    assert "<html" not in html
    for action in ("appel", "evenement", "courrier-revenu", "recherche-adresse", "ne-plus-contacter"):
        assert f'action="/travail/dossiers/{case.pk}/{action}/"' in html
    assert f'action="/dossiers/{case.pk}/decisions/"' in html and 'value="court_action"' in html
    assert "06 12 34 56 78" in html  # the debtor's phones to pick from
    # A date field's value must be ISO, or the browser shows it empty and refuses to submit the form.
    assert f'name="evenement-occurred_on" value="{timezone.localdate().isoformat()}"' in html
    assert_every_control_labelled(html)
    assert_no_inline_code(html)
    full = page.content.decode()
    assert parse(full).count("h1") == 1
    assert_no_inline_code(full)


def test_card_shows_the_calls_with_their_notes_to_the_agency(client, case, users):
    call_record(case=case, actor=users.agent, number=PHONE, outcome="message_left", notes=NOTES, at=TUESDAY_11)
    client.force_login(users.agent)
    html = client.get(card_url(case), headers={"HX-Request": "true"}).content.decode()
    assert NOTES in html
    assert "Message laissé" in html


def test_creditor_staff_see_the_call_in_the_history_but_never_its_notes(client, case, users):
    call_record(case=case, actor=users.agent, number=PHONE, outcome="reached", notes=NOTES, at=TUESDAY_11)

    verbs = [entry.verb for entry in case_timeline(case=case, include_internal=False)]
    assert "call.recorded" in verbs
    client.force_login(users.collaborator)
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert "NOTE-INTERNE" not in html
    assert "pleure" not in html


def test_call_has_a_french_label_and_its_outcome_on_the_timeline(case, users):
    call_record(case=case, actor=users.agent, number=PHONE, outcome="reached", notes=NOTES, at=TUESDAY_11)
    [entry] = [e for e in case_timeline(case=case, include_internal=False) if e.verb == "call.recorded"]
    assert (entry.label, entry.details) == ("Appel", "débiteur joint")


def test_internal_event_is_not_on_the_creditors_timeline(case, users):
    event_record(case=case, kind="vulnerability", occurred_on=date(2026, 11, 2), details="", actor=users.agent)
    verbs = {e.verb for e in case_timeline(case=case, include_internal=False)}
    assert "case.internal_event_recorded" not in verbs


@time_machine.travel(TUESDAY_11, tick=False)
def test_call_form_records_the_call_and_the_promise(client, case, users):
    client.force_login(users.agent)
    response = client.post(
        f"/travail/dossiers/{case.pk}/appel/",
        {
            "appel-number_choice": "",
            "appel-number_other": "06 98 76 54 32",
            "appel-direction": "out",
            "appel-outcome": "promise",
            "appel-promise_amount": "40.00",
            "appel-promise_due_on": "2026-07-15",
            "appel-notes": NOTES,
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"/dossiers/{case.pk}/#actions"
    assert flash(response) == ["Appel et promesse de paiement enregistrés."]
    call = CallRecord.objects.get()
    assert (call.number, call.notes) == (OTHER_PHONE, NOTES)
    assert PromiseToPay.objects.get().amount == Decimal("40.00")


@time_machine.travel(datetime(2026, 7, 14, 11, 0, tzinfo=PARIS), tick=False)
def test_call_form_shows_the_policy_refusal(client, case, users):
    client.force_login(users.agent)
    response = client.post(
        f"/travail/dossiers/{case.pk}/appel/",
        {"appel-number_choice": PHONE, "appel-direction": "out", "appel-outcome": "no_answer"},
    )
    assert flash(response) == []
    assert not Action.objects.filter(channel="call").exists()
    html = client.get(f"/dossiers/{case.pk}/").content.decode()  # the refusal comes back with the form
    assert (
        "Appel refusé par la politique de contact : jour férié. "
        "Prochain créneau autorisé : mercredi 15 juillet à 10 h 00." in html
    )


def test_call_form_errors_come_back_beside_their_fields(client, case, users):
    client.force_login(users.agent)
    response = client.post(f"/travail/dossiers/{case.pk}/appel/", {"appel-number_choice": "", "appel-outcome": "x"})
    assert flash(response) == []
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert "Choisissez le numéro appelé ou saisissez-en un." in html
    assert 'id="id_appel-outcome_error"' in html
    assert not Action.objects.filter(channel="call").exists()


def test_event_returned_mail_investigation_and_do_not_contact_forms(client, case, users):
    client.force_login(users.agent)
    base = f"/travail/dossiers/{case.pk}"

    response = client.post(
        f"{base}/evenement/",
        {"evenement-kind": "dispute", "evenement-occurred_on": "2026-11-02", "evenement-details": "Conteste"},
    )
    assert flash(response)[-1:] == ["Événement enregistré : contestation de la créance."]

    response = client.post(f"{base}/courrier-revenu/", {"npai-point": address(case).pk})
    assert flash(response)[-1:] == [
        "Courrier revenu enregistré : l'adresse est marquée invalide et une recherche d'adresse est ouverte."
    ]
    task = Task.objects.get(case=case, kind="address_investigation", status="open")

    response = client.post(
        f"{base}/recherche-adresse/",
        {
            "recherche-task": task.pk,
            "recherche-sources": "Annuaire",
            "recherche-result": "Trouvée",
            "recherche-line1": "3 rue C",
            "recherche-postal_code": "75003",
            "recherche-city": "Paris",
        },
    )
    assert flash(response)[-1:] == [
        "Recherche d'adresse close : nouvelle adresse enregistrée, les précédentes sont invalidées."
    ]
    assert ContactPoint.objects.get(debtor=case.debtor, kind="address", quality="valid").line1 == "3 rue C"

    response = client.post(f"{base}/ne-plus-contacter/", {"contact-value": "1"})
    assert flash(response)[-1:] == ["Le débiteur ne sera plus contacté."]
    assert Debtor.objects.get(pk=case.debtor_id).do_not_contact is True
    response = client.post(f"{base}/ne-plus-contacter/", {"contact-value": "0"})
    assert flash(response)[-1:] == ["Les contacts avec le débiteur sont de nouveau autorisés."]
    assert Debtor.objects.get(pk=case.debtor_id).do_not_contact is False


def test_investigation_form_refuses_a_task_of_another_case(client, case, users, reference):
    other = make_case(structure=reference.cdop, assigned_agent=users.agent)
    foreign = open_task(other, "address_investigation")
    client.force_login(users.agent)
    client.post(
        f"/travail/dossiers/{case.pk}/recherche-adresse/",
        {"recherche-task": foreign.pk, "recherche-sources": "Annuaire", "recherche-result": "Rien"},
    )
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert 'id="id_recherche-task_error"' in html
    foreign.refresh_from_db()
    assert foreign.status == "open"


CASE_URLS = ["actions/", "appel/", "evenement/", "courrier-revenu/", "recherche-adresse/", "ne-plus-contacter/"]
POST = {
    "appel-number_choice": PHONE,
    "appel-direction": "in",
    "appel-outcome": "reached",
    "evenement-kind": "death",
    "evenement-occurred_on": "2026-11-02",
    "contact-value": "1",
    "cases": "1",
    "agent": "1",
}


@pytest.mark.parametrize("who", ["collaborator", "approver", "creditor_admin", "csr_only", "other_admin"])
def test_creditor_users_get_403_or_404_on_every_work_url_and_change_nothing(client, case, users, who):
    point = address(case)
    client.force_login(getattr(users, who))
    before = (nothing_written(case), Case.objects.get(pk=case.pk).status)
    urls = ["/travail/ma-journee/", "/travail/ma-journee/reassigner/"] + [
        f"/travail/dossiers/{case.pk}/{suffix}" for suffix in CASE_URLS
    ]
    for url in urls:
        for method in ("get", "post"):
            data = {**POST, "npai-point": point.pk} if method == "post" else None
            response = getattr(client, method)(url, data)
            assert response.status_code in (403, 404, 405), f"{method} {url}: {response.status_code}"
            if response.status_code != 405:
                assert "WRK-0001" not in response.content.decode()
    # Another creditor's user, or one limited to another structure, does not even learn the case exists.
    if who in {"other_admin", "csr_only"}:
        assert client.get(card_url(case)).status_code == 404
    point.refresh_from_db()
    assert point.quality == "valid"
    assert (nothing_written(case), Case.objects.get(pk=case.pk).status) == before
    assert Debtor.objects.get(pk=case.debtor_id).do_not_contact is False


def test_anonymous_visitors_are_sent_to_the_login_page(client, case):
    for url in ("/travail/ma-journee/", card_url(case)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/connexion/")


def test_work_urls_answer_404_for_an_unknown_case(client, users):
    client.force_login(users.agent)
    assert client.get("/travail/dossiers/999999/actions/").status_code == 404
    assert client.post("/travail/dossiers/999999/appel/", POST).status_code == 404


def test_promise_due_date_uses_the_local_day_of_the_call(case, users):
    # 23:30 in Paris on 7 July is 21:30 UTC: the promise « for today » is for the 7th, not refused.
    late = datetime(2026, 7, 7, 21, 30, tzinfo=ZoneInfo("UTC"))
    call_record(
        case=case,
        actor=users.agent,
        number=PHONE,
        outcome="promise",
        direction="in",
        promise_amount="1.00",
        promise_due_on=date(2026, 7, 7) + timedelta(days=0),
        at=late,
    )
    assert PromiseToPay.objects.get().due_on == date(2026, 7, 7)


# --- the remaining balance in the call script and the promises ---------------------------------------


def _pay(case, amount: str, users):
    from amiable.payments.services import payment_record

    payment_record(case=case, amount=amount, collected_on=date(2026, 7, 1), method="transfer", actor=users.agent)
    case.refresh_from_db()
    return case


def test_call_script_states_the_remaining_balance(client, case, users):
    _pay(case, "40.00", users)  # 300,00 € claimed
    client.force_login(users.agent)

    html = client.get(card_url(case), headers={"HX-Request": "true"}).content.decode()

    assert f"La somme de {format_money('260.00')} reste due (nous avons bien reçu {format_money('40.00')})." in html
    assert format_money("300.00") not in html


def test_call_script_asks_nothing_when_nothing_remains_due(client, case, users):
    _pay(case, "300.00", users)
    Case.objects.filter(pk=case.pk).update(status="in_progress")  # forced: a zero balance is never chased anyway
    client.force_login(users.agent)

    html = client.get(card_url(case), headers={"HX-Request": "true"}).content.decode()

    assert "Rien ne reste dû sur ce dossier : ne pas demander de paiement." in html
    assert "reste due" not in html
    assert "Appel sortant impossible maintenant</strong> : rien ne reste dû sur ce dossier" in html


def test_a_promise_may_not_exceed_the_remaining_balance(case, users):
    _pay(case, "40.00", users)
    before = nothing_written(case)

    with pytest.raises(ApplicationError) as error:
        call_record(
            case=case,
            actor=users.agent,
            number=PHONE,
            outcome="promise",
            at=TUESDAY_11,
            promise_amount="260.01",
            promise_due_on=date(2026, 7, 20),
        )

    assert error.value.message == (
        f"Le montant promis ({format_money('260.01')}) dépasse le reste dû ({format_money('260.00')})."
    )
    assert nothing_written(case) == before
    call_record(
        case=case,
        actor=users.agent,
        number=PHONE,
        outcome="promise",
        at=TUESDAY_11,
        promise_amount="260.00",
        promise_due_on=date(2026, 7, 20),
    )
    assert PromiseToPay.objects.get(case=case).amount == Decimal("260.00")


def test_no_promise_when_nothing_remains_due(case, users):
    _pay(case, "300.00", users)
    Case.objects.filter(pk=case.pk).update(status="in_progress")
    before = nothing_written(case)

    with pytest.raises(ApplicationError) as error:
        call_record(
            case=case,
            actor=users.agent,
            number=PHONE,
            direction="in",  # the debtor calls in: recorded, but no promise on a paid claim
            outcome="promise",
            at=TUESDAY_11,
            promise_amount="10.00",
            promise_due_on=date(2026, 7, 20),
        )

    assert error.value.message == "Promesse de paiement impossible : rien ne reste dû sur ce dossier."
    assert nothing_written(case) == before
