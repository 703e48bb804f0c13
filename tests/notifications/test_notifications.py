"""Notifications (C12, C18, C29): who gets one, urgent e-mails after the commit, the idempotent daily digest,
the notification centre with its preferences, the unread badge in the navigation."""

import io
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.utils import timezone

from amiable.notifications.models import Notification, NotificationPreference
from amiable.notifications.services import notification_mark_read, notify, preference_save, send_digest


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def badge(count: int) -> str:
    return f'<span class="badge-count">{count}<span class="visually-hidden"> non lues</span></span>'


# --- notify() ---------------------------------------------------------------------------------------------


def test_notify_skips_inactive_users_none_and_duplicates(users):
    users.approver.is_active = False
    users.approver.save(update_fields=["is_active"])

    created = notify(
        recipients=[users.agent, None, users.approver, users.agent, users.collaborator, users.collaborator],
        kind="comment",
        title="Titre",
        body="Détail",
        url="/dossiers/1/",
        case_pk=1,
    )

    assert [n.recipient for n in created] == [users.agent, users.collaborator]
    assert Notification.objects.count() == 2
    assert set(Notification.objects.values_list("recipient_id", flat=True)) == {users.agent.pk, users.collaborator.pk}
    note = Notification.objects.get(recipient=users.agent)
    assert (note.kind, note.title, note.body, note.url, note.case_pk) == (
        "comment",
        "Titre",
        "Détail",
        "/dossiers/1/",
        1,
    )
    assert note.urgent is False
    assert note.read_at is None
    assert note.emailed_at is None


def test_notify_truncates_long_titles(users):
    (note,) = notify(recipients=[users.agent], kind="x", title="T" * 250)

    note.refresh_from_db()
    assert note.title == "T" * 200


def test_notify_nobody_creates_nothing(users, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert notify(recipients=[], kind="x", title="Urgent", urgent=True) == []

    assert callbacks == []
    assert not Notification.objects.exists()
    assert mailoutbox == []


def test_urgent_is_emailed_after_commit_to_those_who_want_it(users, mailoutbox, django_capture_on_commit_callbacks):
    preference_save(user=users.collaborator, email_urgent=False, email_digest=True)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify(
            recipients=[users.agent, users.collaborator],
            kind="case_recalled",
            title="Dossier X retiré",
            body="Motif",
            url="/dossiers/7/",
            urgent=True,
        )
    assert mailoutbox == []  # nothing before the commit
    assert len(callbacks) == 1
    callbacks[0]()

    (message,) = mailoutbox
    assert message.to == [users.agent.email]
    assert message.subject == "[Amiable] Dossier X retiré"
    assert "Dossier X retiré" in message.body
    assert "Motif" not in message.body  # the text stays in the application, behind the login
    assert f"{settings.AMIABLE_SITE_URL.rstrip('/')}/dossiers/7/" in message.body
    assert Notification.objects.get(recipient=users.agent).emailed_at is not None
    assert Notification.objects.get(recipient=users.collaborator).emailed_at is None


def test_rolled_back_urgent_notification_sends_nothing(users, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify(recipients=[users.agent], kind="x", title="Urgent", urgent=True)
    # The callbacks are dropped: the transaction never commits.
    assert len(callbacks) == 1
    assert mailoutbox == []


def test_non_urgent_is_not_emailed_at_once(users, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify(recipients=[users.agent], kind="comment", title="Message")

    assert callbacks == []
    assert mailoutbox == []


# --- the daily digest -------------------------------------------------------------------------------------


def test_digest_sends_one_email_per_user_then_nothing(users, mailoutbox):
    notify(recipients=[users.agent], kind="comment", title="Premier message", url="/dossiers/1/")
    notify(recipients=[users.agent], kind="comment", title="Second message", url="/dossiers/2/")
    notify(recipients=[users.collaborator], kind="request_answered", title="Réponse reçue", url="/demandes/")

    assert send_digest() == 2

    assert len(mailoutbox) == 2
    by_recipient = {m.to[0]: m for m in mailoutbox}
    agent_mail = by_recipient[users.agent.email]
    assert agent_mail.subject == "[Amiable] Votre récapitulatif : 2 notification(s)"
    assert "Premier message" in agent_mail.body
    assert "Second message" in agent_mail.body
    assert "Réponse reçue" not in agent_mail.body
    assert agent_mail.body.index("Premier message") < agent_mail.body.index("Second message")
    assert f"{settings.AMIABLE_SITE_URL.rstrip('/')}/dossiers/2/" in agent_mail.body
    creditor_mail = by_recipient[users.collaborator.email]
    assert creditor_mail.subject == "[Amiable] Votre récapitulatif : 1 notification(s)"
    assert "Réponse reçue" in creditor_mail.body
    assert "Premier message" not in creditor_mail.body
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()

    assert send_digest() == 0
    assert len(mailoutbox) == 2


def test_digest_leaves_out_emailed_and_read_notifications(users, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify(recipients=[users.agent], kind="x", title="URGENT-DEJA-ENVOYE", urgent=True)
    notify(recipients=[users.agent], kind="x", title="DEJA-LUE")
    notification_mark_read(user=users.agent)
    notify(recipients=[users.agent], kind="x", title="A-ENVOYER")
    mailoutbox.clear()

    assert send_digest() == 1

    (message,) = mailoutbox
    assert "A-ENVOYER" in message.body
    assert "URGENT-DEJA-ENVOYE" not in message.body
    assert "DEJA-LUE" not in message.body


def test_digest_respects_the_preference(users, mailoutbox):
    preference_save(user=users.agent, email_urgent=True, email_digest=False)
    notify(recipients=[users.agent, users.supervisor], kind="x", title="Pour le récapitulatif")

    assert send_digest() == 1

    assert [m.to for m in mailoutbox] == [[users.supervisor.email]]
    assert Notification.objects.get(recipient=users.agent).emailed_at is None


def test_digest_skips_users_deactivated_since(users, mailoutbox):
    notify(recipients=[users.agent], kind="x", title="Avant le départ")
    users.agent.is_active = False
    users.agent.save(update_fields=["is_active"])

    assert send_digest() == 0
    assert mailoutbox == []


def test_digest_only_takes_what_existed_at_now(users, mailoutbox):
    notify(recipients=[users.agent], kind="x", title="Plus tard")

    assert send_digest(now=timezone.now() - timedelta(hours=1)) == 0
    assert mailoutbox == []


def test_send_digest_command_prints_the_count(users, mailoutbox):
    notify(recipients=[users.agent, users.collaborator, users.approver], kind="x", title="Quelque chose")
    out = StringIO()

    call_command("send_digest", stdout=out)

    assert out.getvalue().strip() == "3 récapitulatif(s) envoyé(s)."
    assert len(mailoutbox) == 3
    out = StringIO()
    call_command("send_digest", stdout=out)
    assert out.getvalue().strip() == "0 récapitulatif(s) envoyé(s)."
    assert len(mailoutbox) == 3


# --- the notification centre ------------------------------------------------------------------------------


def test_page_lists_only_the_users_notifications(client, users):
    notify(recipients=[users.collaborator], kind="x", title="POUR-MOI", body="Corps du message", url="/demandes/")
    notify(recipients=[users.collaborator], kind="x", title="URGENTE-POUR-MOI", urgent=True)
    notify(recipients=[users.other_admin], kind="x", title="POUR-UN-AUTRE")
    client.force_login(users.collaborator)

    html = client.get("/notifications/").content.decode()

    assert '<a href="/demandes/">POUR-MOI</a>' in html
    assert "Corps du message" in html
    assert "URGENTE-POUR-MOI" in html
    assert '<span class="badge badge-internal">Urgent</span>' in html
    assert html.count('<span class="badge badge-new">Non lue</span>') == 2
    assert "POUR-UN-AUTRE" not in html


def test_empty_page(client, users):
    client.force_login(users.agent)

    html = client.get("/notifications/").content.decode()

    assert "Aucune notification." in html
    assert 'class="badge-count"' not in html


def test_mark_read_marks_all_of_mine_read(client, users):
    notify(recipients=[users.agent], kind="x", title="Un")
    notify(recipients=[users.agent], kind="x", title="Deux")
    notify(recipients=[users.supervisor], kind="x", title="Pas à moi")
    client.force_login(users.agent)

    response = client.post("/notifications/", {"mark_read": "1"})

    assert response.status_code == 302
    assert response["Location"] == "/notifications/"
    assert flash(response) == ["Toutes les notifications sont marquées comme lues."]
    assert not Notification.objects.filter(recipient=users.agent, read_at__isnull=True).exists()
    assert Notification.objects.get(recipient=users.supervisor).read_at is None
    assert NotificationPreference.objects.count() == 0  # the preferences were not touched
    html = client.get("/notifications/").content.decode()
    assert "Non lue" not in html
    assert "Un" in html


def test_mark_read_service_can_target_some(users):
    first, second = (notify(recipients=[users.agent], kind="x", title=t)[0] for t in ("A", "B"))
    (foreign,) = notify(recipients=[users.supervisor], kind="x", title="C")

    assert notification_mark_read(user=users.agent, notification_ids=[first.pk, foreign.pk]) == 1

    assert set(Notification.objects.filter(read_at__isnull=False).values_list("pk", flat=True)) == {first.pk}
    assert notification_mark_read(user=users.agent) == 1
    second.refresh_from_db()
    assert second.read_at is not None


def test_preferences_form_saves(client, users):
    client.force_login(users.approver)
    html = client.get("/notifications/").content.decode()
    # Both e-mails are on by default.
    assert 'name="email_urgent" id="id_email_urgent" checked' in html
    assert 'name="email_digest" id="id_email_digest" checked' in html

    response = client.post("/notifications/", {"email_urgent": "on"})

    assert response.status_code == 302
    assert flash(response) == ["Préférences enregistrées."]
    pref = NotificationPreference.objects.get(user=users.approver)
    assert (pref.email_urgent, pref.email_digest) == (True, False)
    html = client.get("/notifications/").content.decode()
    assert 'name="email_urgent" id="id_email_urgent" checked' in html
    assert 'name="email_digest" id="id_email_digest">' in html

    client.post("/notifications/", {"email_digest": "on"})
    pref.refresh_from_db()
    assert (pref.email_urgent, pref.email_digest) == (False, True)
    assert NotificationPreference.objects.count() == 1


@pytest.mark.parametrize("role", ["agent", "collaborator"])
def test_unread_badge_in_the_navigation(client, users, role):
    user = getattr(users, role)
    for title in ("Un", "Deux", "Trois"):
        notify(recipients=[user], kind="x", title=title)
    notify(recipients=[users.supervisor], kind="x", title="Autre")
    client.force_login(user)

    html = client.get("/").content.decode()
    assert badge(3) in html

    notification_mark_read(user=user, notification_ids=[Notification.objects.filter(recipient=user).first().pk])
    assert badge(2) in client.get("/dossiers/").content.decode()

    notification_mark_read(user=user)
    assert 'class="badge-count"' not in client.get("/").content.decode()


def test_anonymous_is_sent_to_login(client):
    response = client.get("/notifications/")

    assert response.status_code == 302
    assert response["Location"].startswith("/connexion/")


def test_run_daily_runs_every_daily_job_once(db):
    out = io.StringIO()
    call_command("run_daily", stdout=out)
    text = out.getvalue()
    assert "== send_digest" in text and "récapitulatif(s) envoyé(s)" in text
    assert "== purge_access_log" in text and "supprimée(s) du journal des accès" in text
