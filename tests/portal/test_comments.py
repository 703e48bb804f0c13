"""Messages on a case (C39): creditor staff write to the agency, the agency answers or writes internal notes
that creditor users never see; unread markers; tenant isolation of the comment URL."""

import pytest
from django.contrib.messages import get_messages

from amiable.audit.models import AuditEvent
from amiable.cases.models import Comment
from amiable.cases.services import comment_add
from amiable.core.exceptions import ApplicationError
from amiable.notifications.models import Notification
from tests.factories import make_case, make_user

NEW_BADGE = '<span class="badge badge-new">Nouveau</span>'


@pytest.fixture
def case(reference, users):
    reference.cpam.referent = users.supervisor
    reference.cpam.save()
    return make_case(structure=reference.csr, reference="COM-0001", assigned_agent=users.agent)


def url(case) -> str:
    return f"/dossiers/{case.pk}/commentaires/"


def page(client, user, case) -> str:
    client.force_login(user)
    response = client.get(f"/dossiers/{case.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def recipients(**filters) -> set[int]:
    return set(Notification.objects.filter(**filters).values_list("recipient_id", flat=True))


# --- creditor → agency ------------------------------------------------------------------------------------


def test_creditor_post_stores_audits_and_notifies_agent_and_referent(client, case, users):
    client.force_login(users.collaborator)

    response = client.post(url(case), {"body": "  Le débiteur a appelé ce matin.  "})

    assert response.status_code == 302
    assert response["Location"] == f"/dossiers/{case.pk}/#commentaires"
    assert flash(response) == ["Message envoyé."]
    comment = Comment.objects.get(case=case)
    assert comment.author == users.collaborator
    assert comment.body == "Le débiteur a appelé ce matin."
    assert comment.internal is False
    event = AuditEvent.objects.get(verb="comment.added", target_id=str(comment.pk))
    assert event.actor == users.collaborator
    assert event.case_pk == case.pk
    assert event.after == {"body": "Le débiteur a appelé ce matin.", "internal": False}
    notes = Notification.objects.filter(kind="comment", case_pk=case.pk)
    assert {n.recipient_id for n in notes} == {users.agent.pk, users.supervisor.pk}
    assert users.collaborator.pk not in {n.recipient_id for n in notes}
    note = notes.get(recipient=users.agent)
    assert note.title == "Message du créancier sur le dossier COM-0001"
    assert note.body == "Le débiteur a appelé ce matin."
    assert note.url == f"/dossiers/{case.pk}/#commentaires"
    assert note.urgent is False


def test_creditor_message_is_shown_to_both_sides(client, case, users):
    client.force_login(users.collaborator)
    client.post(url(case), {"body": "MESSAGE-VISIBLE-PAR-TOUS"})

    assert "MESSAGE-VISIBLE-PAR-TOUS" in page(client, users.agent, case)
    assert "MESSAGE-VISIBLE-PAR-TOUS" in page(client, users.approver, case)


# --- internal notes ---------------------------------------------------------------------------------------


def test_agency_internal_note_is_shown_to_the_agency_only(client, case, users):
    client.force_login(users.agent)

    response = client.post(url(case), {"body": "NOTE-INTERNE-SECRETE-42", "internal": "on"})

    assert response.status_code == 302
    assert flash(response) == ["Note interne enregistrée."]
    comment = Comment.objects.get(case=case)
    assert comment.internal is True
    assert AuditEvent.objects.filter(verb="comment.internal_added", target_id=str(comment.pk)).exists()
    assert not AuditEvent.objects.filter(verb="comment.added").exists()
    # Nobody at the creditor is told about an internal note.
    assert not Notification.objects.filter(kind="comment").exists()

    agency_html = page(client, users.supervisor, case)
    assert "NOTE-INTERNE-SECRETE-42" in agency_html
    assert "Note interne</span>" in agency_html

    for creditor_user in (users.collaborator, users.approver, users.creditor_admin, users.csr_only):
        creditor_html = page(client, creditor_user, case)
        assert "NOTE-INTERNE-SECRETE-42" not in creditor_html
        assert "Note interne</span>" not in creditor_html
        assert "Aucun échange pour l'instant." in creditor_html


def test_creditor_timeline_does_not_reveal_internal_notes(client, case, users):
    comment_add(case=case, author=users.agent, body="NOTE-INTERNE", internal=True)

    html = page(client, users.collaborator, case)

    assert "NOTE-INTERNE" not in html
    assert "comment.internal_added" not in html


def test_creditor_cannot_write_an_internal_note_through_the_view(client, case, users):
    client.force_login(users.collaborator)

    response = client.post(url(case), {"body": "Je coche la case interne", "internal": "on"})

    assert response.status_code == 302
    assert flash(response) == ["Message envoyé."]
    comment = Comment.objects.get(case=case)
    assert comment.internal is False
    assert AuditEvent.objects.filter(verb="comment.added", target_id=str(comment.pk)).exists()
    assert "Je coche la case interne" in page(client, users.approver, case)


def test_service_refuses_internal_note_from_creditor_and_writes_nothing(case, users):
    with pytest.raises(ApplicationError) as exc:
        comment_add(case=case, author=users.collaborator, body="Note", internal=True)

    assert exc.value.message == "Seule l'agence peut écrire une note interne."
    assert not Comment.objects.exists()
    assert not AuditEvent.objects.filter(verb__startswith="comment.").exists()
    assert not Notification.objects.exists()


# --- refusals ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["", "   \n  "])
def test_service_refuses_empty_message(case, users, body):
    with pytest.raises(ApplicationError) as exc:
        comment_add(case=case, author=users.collaborator, body=body)

    assert exc.value.message == "Le message est vide."
    assert not Comment.objects.exists()
    assert not AuditEvent.objects.filter(verb__startswith="comment.").exists()
    assert not Notification.objects.exists()


def test_service_refuses_too_long_message(case, users):
    with pytest.raises(ApplicationError) as exc:
        comment_add(case=case, author=users.agent, body="x" * 5001)

    assert exc.value.message == "Le message dépasse 5 000 caractères."
    assert not Comment.objects.exists()


def test_view_refuses_empty_message(client, case, users):
    client.force_login(users.collaborator)

    response = client.post(url(case), {"body": "    "})

    assert response.status_code == 302
    assert flash(response) == []  # the form comes back on the case page, the error beside the field
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert '<div class="errors" id="commentaire-body_error"><p>Ce champ est obligatoire.</p></div>' in html
    assert not Comment.objects.exists()
    assert not AuditEvent.objects.filter(verb__startswith="comment.").exists()
    assert not Notification.objects.exists()


def test_service_refuses_a_case_the_author_cannot_see(reference, case, users):
    cdop_case = make_case(structure=reference.cdop, reference="COM-CDOP")

    with pytest.raises(ApplicationError) as exc:
        comment_add(case=cdop_case, author=users.csr_only, body="Bonjour")
    assert exc.value.message == "Vous n'avez pas accès à ce dossier."
    with pytest.raises(ApplicationError):
        comment_add(case=case, author=users.other_admin, body="Bonjour")

    assert not Comment.objects.exists()


def test_get_is_not_allowed(client, case, users):
    client.force_login(users.collaborator)

    assert client.get(url(case)).status_code == 405
    assert not Comment.objects.exists()


# --- unread markers ---------------------------------------------------------------------------------------


def test_agent_sees_new_badge_once_after_creditor_posts(client, case, users):
    # The agent has already opened the case before the creditor writes.
    assert NEW_BADGE not in page(client, users.agent, case)
    client.force_login(users.collaborator)
    client.post(url(case), {"body": "Une nouvelle question"})

    first = page(client, users.agent, case)
    second = page(client, users.agent, case)

    assert first.count(NEW_BADGE) == 1
    assert "message-item unread" in first
    assert NEW_BADGE not in second
    assert "message-item unread" not in second


def test_author_never_sees_own_message_as_new(client, case, users):
    client.force_login(users.collaborator)
    client.post(url(case), {"body": "Mon propre message"})

    html = page(client, users.collaborator, case)

    assert "Mon propre message" in html
    assert NEW_BADGE not in html


def test_agency_answer_is_new_for_the_creditor(client, case, users):
    page(client, users.collaborator, case)
    comment_add(case=case, author=users.agent, body="Réponse de l'agence")

    assert page(client, users.collaborator, case).count(NEW_BADGE) == 1
    assert NEW_BADGE not in page(client, users.collaborator, case)


# --- agency answers ---------------------------------------------------------------------------------------


def test_agency_answer_notifies_only_creditor_staff_who_took_part(client, case, users):
    comment_add(case=case, author=users.collaborator, body="Question du collaborateur")
    comment_add(case=case, author=users.csr_only, body="Précision de la collaboratrice CSR")
    Notification.objects.all().delete()
    client.force_login(users.agent)

    response = client.post(url(case), {"body": "Réponse de l'agence"})

    assert response.status_code == 302
    assert flash(response) == ["Message envoyé."]
    comment = Comment.objects.get(body="Réponse de l'agence")
    assert comment.internal is False
    assert AuditEvent.objects.filter(verb="comment.added", target_id=str(comment.pk), actor=users.agent).exists()
    assert recipients(kind="comment") == {users.collaborator.pk, users.csr_only.pk}
    note = Notification.objects.get(recipient=users.collaborator)
    assert note.title == "Réponse de l'agence sur le dossier COM-0001"
    assert note.url == f"/dossiers/{case.pk}/#commentaires"


def test_agency_answer_without_creditor_participants_notifies_nobody(case, users):
    comment_add(case=case, author=users.agent, body="Premier message de l'agence")

    assert not Notification.objects.exists()


def test_agency_answer_skips_participants_who_left(case, users):
    comment_add(case=case, author=users.collaborator, body="Question")
    users.collaborator.is_active = False
    users.collaborator.save(update_fields=["is_active"])
    Notification.objects.all().delete()

    comment_add(case=case, author=users.agent, body="Réponse")

    assert not Notification.objects.exists()


def test_internal_note_after_a_creditor_message_notifies_nobody(case, users):
    comment_add(case=case, author=users.collaborator, body="Question")
    Notification.objects.all().delete()

    comment_add(case=case, author=users.agent, body="Note pour le superviseur", internal=True)

    assert not Notification.objects.exists()


def test_creditor_message_with_no_agent_nor_referent_notifies_nobody(reference, users):
    case = make_case(structure=reference.cdop, reference="SANS-AGENT")

    comment = comment_add(case=case, author=users.collaborator, body="Y a-t-il quelqu'un ?")

    assert comment.pk is not None
    assert not Notification.objects.exists()


def test_inactive_agent_is_not_notified(reference, users):
    reference.cpam.referent = users.supervisor
    reference.cpam.save()
    agent = make_user("agent")
    case = make_case(structure=reference.csr, reference="AGENT-PARTI", assigned_agent=agent)
    agent.is_active = False
    agent.save(update_fields=["is_active"])

    comment_add(case=case, author=users.collaborator, body="Bonjour")

    assert recipients() == {users.supervisor.pk}


# --- isolation --------------------------------------------------------------------------------------------


def test_other_creditor_gets_404_and_nothing_is_stored(client, case, users):
    client.force_login(users.other_admin)

    response = client.post(url(case), {"body": "Intrusion"})

    assert response.status_code == 404
    assert not Comment.objects.exists()
    assert not AuditEvent.objects.filter(verb__startswith="comment.").exists()
    assert not Notification.objects.exists()


def test_structure_limited_user_gets_404_on_another_structure(client, reference, users):
    cdop_case = make_case(structure=reference.cdop, reference="COM-CDOP")
    client.force_login(users.csr_only)

    response = client.post(url(cdop_case), {"body": "Hors de mon périmètre"})

    assert response.status_code == 404
    assert not Comment.objects.exists()


def test_anonymous_is_sent_to_login(client, case):
    response = client.post(url(case), {"body": "Anonyme"})

    assert response.status_code == 302
    assert response["Location"].startswith("/connexion/?next=")
    assert not Comment.objects.exists()
