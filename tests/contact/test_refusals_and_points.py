"""Contact refusals that help: one sentence with the next allowed slot, « Envoyer » disabled in the preview when
the message could not go, no message before its first letter is printed, the dev switch of the hours; and the
debtor's phones and e-mails that an agent adds, corrects or verifies from the case page (audited)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from amiable.audit.models import AuditEvent
from amiable.cases.models import ContactPoint, ContactQuality
from amiable.cases.policy import case_contact_block
from amiable.cases.services import contact_point_add, debtor_do_not_contact_set
from amiable.contact.messaging import email_send, sms_send
from amiable.contact.models import OutboxMessage
from amiable.contact.points import contact_point_correct, contact_point_record, contact_point_verify
from amiable.core.exceptions import ApplicationError
from amiable.letters.services import letter_issue
from tests.work_fixtures import DEBTOR_EMAIL, DEBTOR_PHONE, posted

PARIS = ZoneInfo("Europe/Paris")
# Saturday 28 November 2026 at 22:00: the CPAM allows no contact on Saturdays; the next slot is Monday.
SATURDAY_NIGHT = datetime(2026, 11, 28, 22, 0, tzinfo=PARIS)
MONDAY_11 = datetime(2026, 11, 30, 11, 0, tzinfo=PARIS)
LETTER_DAY = date(2026, 11, 2)


@pytest.fixture
def case(case_factory):
    return case_factory(ack=LETTER_DAY, email=DEBTOR_EMAIL, phone=DEBTOR_PHONE)


@pytest.fixture
def letter(case, users):
    at = datetime.combine(LETTER_DAY, datetime.min.time().replace(hour=10), tzinfo=PARIS)
    return letter_issue(case=case, kind="first", actor=users.agent, issued_on=LETTER_DAY, at=at)


# --- the next slot ------------------------------------------------------------------------------------------


def test_a_refusal_says_the_next_allowed_slot_in_words(case):
    block = case_contact_block(case, "email", SATURDAY_NIGHT)
    assert block.key == "day_not_allowed"
    assert block.next_slot == "Prochain créneau autorisé : lundi 30 novembre à 10 h 00"
    assert block.message == "jour non autorisé par la politique de contact. " + block.next_slot


def test_the_preview_at_a_forbidden_hour_disables_envoyer_and_shows_the_next_slot(client, users, case, letter):
    posted(letter)
    client.force_login(users.agent)
    with time_machine.travel(SATURDAY_NIGHT, tick=False):
        response = client.get(f"/travail/dossiers/{case.pk}/message/email/apercu/")
        html = response.content.decode()
        assert response.status_code == 200
        assert DEBTOR_EMAIL in html  # the message itself is still shown
        assert "Envoi impossible maintenant" in html
        assert "Prochain créneau autorisé : lundi 30 novembre à 10 h 00." in html
        assert '<button type="submit" class="button" disabled aria-describedby="envoi-impossible">Envoyer</button>' in (
            html
        )
        # The POST is refused by the same rule, with the same sentence.
        sent = client.post(f"/travail/dossiers/{case.pk}/message/email/", follow=True).content.decode()
    assert "Prochain créneau autorisé : lundi 30 novembre à 10 h 00." in sent
    assert not OutboxMessage.objects.exists() and mail.outbox == []


def test_the_preview_in_the_allowed_hours_has_a_working_envoyer(client, users, case, letter):
    posted(letter)
    client.force_login(users.agent)
    with time_machine.travel(MONDAY_11, tick=False):
        html = client.get(f"/travail/dossiers/{case.pk}/message/sms/apercu/").content.decode()
    assert f'action="/travail/dossiers/{case.pk}/message/sms/"' in html
    assert "disabled" not in html.split("<main", 1)[-1].split("</main>", 1)[0]


def test_the_actions_card_says_when_a_call_may_be_made(client, users, case, letter):
    client.force_login(users.agent)
    with time_machine.travel(SATURDAY_NIGHT, tick=False):
        html = client.get(f"/travail/dossiers/{case.pk}/actions/").content.decode()
    assert "Appel sortant impossible maintenant" in html
    assert "Prochain créneau autorisé : lundi 30 novembre à 10 h 00." in html


# --- the first letter before any message --------------------------------------------------------------------


@pytest.mark.parametrize("send", [email_send, sms_send])
def test_no_message_recalls_a_first_letter_not_yet_printed(users, case, letter, send):
    with pytest.raises(ApplicationError) as error:
        send(case=case, actor=users.agent, at=MONDAY_11)
    assert error.value.message == (
        f"La première lettre {letter.number} n'est pas encore imprimée : un e-mail ou un SMS qui la rappelle ne "
        "peut partir qu'une fois qu'elle est dans un lot d'impression (« Courriers à imprimer »)."
    )
    assert not OutboxMessage.objects.exists()
    posted(letter)
    assert send(case=case, actor=users.agent, at=MONDAY_11).first_letter == letter


def test_the_preview_says_the_letter_must_be_printed_first(client, users, case, letter):
    client.force_login(users.agent)
    with time_machine.travel(MONDAY_11, tick=False):
        html = client.get(f"/travail/dossiers/{case.pk}/message/email/apercu/").content.decode()
    assert f"La première lettre {letter.number} n&#x27;est pas encore imprimée" in html


# --- the dev switch of the hours ----------------------------------------------------------------------------


def test_the_dev_switch_lifts_the_hours_only(settings, users, case, letter):
    posted(letter)
    settings.AMIABLE_CONTACT_POLICY_OFF = True
    assert case_contact_block(case, "sms", SATURDAY_NIGHT) is None
    message = email_send(case=case, actor=users.agent, at=SATURDAY_NIGHT)
    assert message.pk
    # The do-not-contact request still holds.
    debtor_do_not_contact_set(debtor=case.debtor, value=True, actor=users.agent, case=case)
    case.debtor.refresh_from_db()
    assert case_contact_block(case, "sms", SATURDAY_NIGHT).key == "do_not_contact"


def test_without_the_switch_the_hours_hold(settings, case):
    settings.AMIABLE_CONTACT_POLICY_OFF = False
    assert case_contact_block(case, "sms", SATURDAY_NIGHT).key == "day_not_allowed"


# --- contact points -----------------------------------------------------------------------------------------


def test_an_added_phone_is_unverified_until_verified(users, case):
    point = contact_point_record(case=case, kind="phone", value="06 11 22 33 44", actor=users.agent)
    assert (point.value, point.quality, point.checked_on) == ("+33611223344", ContactQuality.UNKNOWN, None)
    assert AuditEvent.objects.filter(verb="contact_point.added", case_pk=case.pk).exists()
    with time_machine.travel(MONDAY_11, tick=False):
        point = contact_point_verify(case=case, point=point, actor=users.agent)
    assert (point.quality, point.checked_on) == (ContactQuality.VALID, MONDAY_11.date())
    event = AuditEvent.objects.filter(verb="contact_point.quality_changed").latest("pk")
    assert (event.actor_id, event.case_pk) == (users.agent.pk, case.pk)


def test_an_address_is_not_verified_by_a_click(users, case):
    address = ContactPoint.objects.filter(debtor=case.debtor, kind="address").first()
    address.quality = ContactQuality.DOUBTFUL
    address.save()
    with pytest.raises(ApplicationError, match="une adresse se confirme par la recherche d'adresse"):
        contact_point_verify(case=case, point=address, actor=users.agent)
    address.refresh_from_db()
    assert address.quality == ContactQuality.DOUBTFUL


def test_an_added_email_verified_with_the_debtor_is_valid_at_once(users, case):
    point = contact_point_record(case=case, kind="email", value="Autre@Exemple.fr", actor=users.agent, verified=True)
    assert (point.value, point.quality) == ("autre@exemple.fr", ContactQuality.VALID)
    assert point.checked_on is not None


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("phone", "12", "Numéro de téléphone invalide : « 12 »."),
        ("email", "pas-un-email", "Adresse e-mail invalide : « pas-un-email »."),
        ("email", "  ", "Indiquez la coordonnée."),
        ("address", "1 rue A", "Seuls un téléphone ou un e-mail se saisissent ici"),
        ("phone", "06 12 34 56 78", "06 12 34 56 78 est déjà connu (valide) : vérifiez-le ou corrigez-le."),
    ],
)
def test_a_bad_or_known_value_is_refused(users, case, kind, value, message):
    before = ContactPoint.objects.count()
    with pytest.raises(ApplicationError) as error:
        contact_point_record(case=case, kind=kind, value=value, actor=users.agent)
    assert error.value.message.startswith(message)
    assert ContactPoint.objects.count() == before


def test_a_correction_keeps_the_old_point_invalid(users, case):
    old = ContactPoint.objects.get(debtor=case.debtor, kind="email")
    new = contact_point_correct(case=case, point=old, value="marie.d@exemple.fr", actor=users.agent)
    old.refresh_from_db()
    assert old.quality == ContactQuality.INVALID and old.invalid_since is not None
    assert (new.value, new.quality, new.source) == ("marie.d@exemple.fr", ContactQuality.UNKNOWN, "Saisie de l'agent")
    event = AuditEvent.objects.get(verb="contact_point.corrected")
    assert event.before == {"display": DEBTOR_EMAIL}
    assert event.after["display"] == "marie.d@exemple.fr" and event.case_pk == case.pk
    with pytest.raises(ApplicationError, match="est invalide"):
        contact_point_verify(case=case, point=old, actor=users.agent)


def test_creditor_staff_and_another_debtors_point_are_refused(users, case, case_factory):
    point = ContactPoint.objects.get(debtor=case.debtor, kind="phone")
    with pytest.raises(ApplicationError):
        contact_point_record(case=case, kind="phone", value="0611223344", actor=users.creditor_admin)
    other = case_factory(ack=LETTER_DAY, phone="+33622334455")
    with pytest.raises(ApplicationError, match="n'est pas celle du débiteur"):
        contact_point_verify(case=other, point=point, actor=users.agent)


def test_the_case_page_shows_unverified_points_and_the_forms(client, users, case, django_assert_max_num_queries):
    unverified = contact_point_add(
        debtor=case.debtor, kind="phone", value="+33699887766", source="Appel entrant", actor=None
    )
    client.force_login(users.agent)
    with django_assert_max_num_queries(40):
        html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert '<span class="quality quality-unknown">Non vérifié</span>' in html
    assert f'action="/travail/dossiers/{case.pk}/coordonnees/{unverified.pk}/verifier/"' in html
    assert f'action="/travail/dossiers/{case.pk}/coordonnees/{unverified.pk}/corriger/"' in html
    assert f'action="/travail/dossiers/{case.pk}/coordonnees/"' in html
    client.force_login(users.creditor_admin)
    creditor_html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert "Non vérifié" in creditor_html and "/coordonnees/" not in creditor_html


def test_the_forms_add_correct_and_verify(client, users, case):
    client.force_login(users.agent)
    page = f"/dossiers/{case.pk}/#coordonnees"
    response = client.post(f"/travail/dossiers/{case.pk}/coordonnees/", {"kind": "phone", "value": "0699887766"})
    assert response.status_code == 302 and response["Location"] == page
    added = ContactPoint.objects.get(debtor=case.debtor, value="+33699887766")
    assert added.quality == ContactQuality.UNKNOWN

    response = client.post(f"/travail/dossiers/{case.pk}/coordonnees/{added.pk}/verifier/", follow=True)
    added.refresh_from_db()
    assert added.quality == ContactQuality.VALID
    assert "vérifiée le" in response.content.decode()

    response = client.post(
        f"/travail/dossiers/{case.pk}/coordonnees/{added.pk}/corriger/",
        {"value": "06 99 88 77 65", "verified": "on"},
        follow=True,
    )
    added.refresh_from_db()
    assert added.quality == ContactQuality.INVALID
    corrected = ContactPoint.objects.get(debtor=case.debtor, value="+33699887765")
    assert corrected.quality == ContactQuality.VALID
    assert "Coordonnée corrigée" in response.content.decode()

    bad = client.post(f"/travail/dossiers/{case.pk}/coordonnees/", {"kind": "email", "value": "x"}, follow=True)
    assert "Adresse e-mail invalide : « x »." in bad.content.decode()


def test_a_refused_contact_point_comes_back_with_what_was_typed_beside_its_field(client, users, case):
    from lxml import html as lxml_html

    known = contact_point_add(debtor=case.debtor, kind="phone", value="+33699887766", source="Fichier", actor=None)
    client.force_login(users.agent)
    response = client.post(
        f"/travail/dossiers/{case.pk}/coordonnees/", {"kind": "email", "value": "pas-un-email", "verified": "on"}
    )
    assert response.status_code == 302
    doc = lxml_html.fromstring(client.get(f"/dossiers/{case.pk}/").content.decode())
    value = doc.get_element_by_id("coordonnee-value")
    assert value.get("value") == "pas-un-email" and value.get("aria-invalid") == "true"
    assert "coordonnee-value_error" in value.get("aria-describedby")
    error = doc.get_element_by_id("coordonnee-value_error").text_content()
    assert "Adresse e-mail invalide : « pas-un-email »." in error
    assert doc.get_element_by_id("coordonnee-kind").xpath("./option[@selected]")[0].get("value") == "email"
    assert doc.get_element_by_id("coordonnee-verified").get("checked") is not None
    assert value.xpath("ancestor::details")[0].get("open") is not None  # its panel open
    assert not ContactPoint.objects.filter(debtor=case.debtor, kind="email", value="pas-un-email").exists()

    # A correction refused (the value already known) comes back on its own point only, then is fresh again.
    other = contact_point_add(debtor=case.debtor, kind="phone", value="+33611111111", source="Fichier", actor=None)
    client.post(f"/travail/dossiers/{case.pk}/coordonnees/{other.pk}/corriger/", {"value": "06 99 88 77 66"})
    doc = lxml_html.fromstring(client.get(f"/dossiers/{case.pk}/").content.decode())
    field = doc.get_element_by_id(f"corriger-{other.pk}-value")
    assert field.get("value") == "06 99 88 77 66"
    assert "déjà connu pour ce débiteur" in doc.get_element_by_id(f"corriger-{other.pk}-value_error").text_content()
    assert doc.get_element_by_id(f"corriger-{known.pk}-value").get("value") is None
    for ref in {i for el in doc.xpath("//*[@aria-describedby]") for i in el.get("aria-describedby").split()}:
        assert len(doc.xpath(f'//*[@id="{ref}"]')) == 1, ref
    doc = lxml_html.fromstring(client.get(f"/dossiers/{case.pk}/").content.decode())
    assert doc.get_element_by_id(f"corriger-{other.pk}-value").get("value") is None  # read once
