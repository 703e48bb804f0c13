"""Decisions asked of the creditor (C16, C19, C30, C42): who is told, who may decide, the inbox, the refusals,
and tenant isolation of the decision URL."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from amiable.approvals.models import ApprovalKind, ApprovalRequest, ApprovalStatus
from amiable.approvals.services import approval_decide, approval_request
from amiable.audit.models import AuditEvent
from amiable.core.dates import add_business_days
from amiable.core.exceptions import ApplicationError
from amiable.creditors.models import ContractTerms
from amiable.notifications.models import Notification
from amiable.notifications.services import preference_save
from tests.factories import make_case, make_user, pay_in_full


@pytest.fixture
def case(reference, users):
    reference.cpam.referent = users.supervisor
    reference.cpam.save()
    return make_case(structure=reference.csr, reference="DEC-0001", assigned_agent=users.agent)


@pytest.fixture
def limited(reference):
    """Two approvers limited to one structure each: CSR (the case's) and CDOP (another)."""
    return type(
        "Limited",
        (),
        {
            "csr_approver": make_user("creditor_approver", creditor=reference.cpam, structures=[reference.csr]),
            "cdop_approver": make_user("creditor_approver", creditor=reference.cpam, structures=[reference.cdop]),
        },
    )


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def ask(case, actor, **extra):
    values = {"kind": "court_action", "proposal": "Assigner le débiteur devant le tribunal judiciaire."}
    values.update(extra)
    return approval_request(case=case, actor=actor, **values)


def recipients(**filters) -> set[int]:
    return set(Notification.objects.filter(**filters).values_list("recipient_id", flat=True))


# --- asking -----------------------------------------------------------------------------------------------


def test_agency_asks_and_only_the_creditors_deciders_are_told_urgently(
    case, users, limited, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        approval = ask(case, users.agent)

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert approval.asked_by == users.agent
    assert approval.due_on == add_business_days(timezone.localdate(), 5)
    assert approval.decided_by is None
    event = AuditEvent.objects.get(verb="approval.requested")
    assert (event.actor, event.case_pk) == (users.agent, case.pk)
    assert event.after["kind"] == "court_action"

    deciders = {users.approver.pk, users.creditor_admin.pk, limited.csr_approver.pk}
    assert recipients(kind="approval_requested") == deciders
    notes = Notification.objects.filter(kind="approval_requested")
    assert all(n.urgent and n.case_pk == case.pk and n.url == "/validations/" for n in notes)
    assert notes.first().title == ("Décision attendue sur le dossier DEC-0001 : Autorisation d'une action en justice")
    for left_out in (users.collaborator, users.csr_only, users.other_admin, limited.cdop_approver, users.agent):
        assert not Notification.objects.filter(recipient=left_out).exists()

    # Sent at once by e-mail, after the commit, to the same people only.
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        [users.approver.email, users.creditor_admin.email, limited.csr_approver.email]
    )
    assert all(len(m.to) == 1 for m in mailoutbox)
    assert mailoutbox[0].subject == (
        "[Amiable] Décision attendue sur le dossier DEC-0001 : Autorisation d'une action en justice"
    )
    # The title and a link only: the agency's proposal stays behind the login (no free text in an e-mail).
    assert "Assigner le débiteur devant le tribunal judiciaire." not in mailoutbox[0].body
    assert "/validations/" in mailoutbox[0].body
    assert all(n.emailed_at is not None for n in Notification.objects.filter(kind="approval_requested"))


def test_no_email_before_the_commit(case, users, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ask(case, users.agent)

    assert len(callbacks) == 1
    assert mailoutbox == []


def test_decider_who_declined_urgent_emails_gets_the_notification_only(
    case, users, mailoutbox, django_capture_on_commit_callbacks
):
    preference_save(user=users.approver, email_urgent=False, email_digest=True)

    with django_capture_on_commit_callbacks(execute=True):
        ask(case, users.agent)

    assert [m.to for m in mailoutbox] == [[users.creditor_admin.email]]
    assert Notification.objects.filter(recipient=users.approver, emailed_at__isnull=True).exists()


def test_agency_asks_through_the_case_page(client, case, users, mailoutbox, django_capture_on_commit_callbacks):
    client.force_login(users.agent)
    due = add_business_days(timezone.localdate(), 10)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/dossiers/{case.pk}/decisions/",
            {"kind": "exchange", "proposal": "Accepter un échange avant décision.", "due_on": due.isoformat()},
        )

    assert response.status_code == 302
    assert response["Location"] == f"/dossiers/{case.pk}/#decisions"
    assert flash(response) == ["Demande de décision envoyée au créancier."]
    approval = ApprovalRequest.objects.get()
    assert (approval.case, approval.kind, approval.status) == (case, "exchange", ApprovalStatus.PENDING)
    assert approval.proposal == "Accepter un échange avant décision."
    assert approval.due_on == due
    assert recipients(kind="approval_requested") == {users.approver.pk, users.creditor_admin.pk}
    assert len(mailoutbox) == 2
    # The case page lists it for both sides.
    assert "Accepter un échange avant décision." in client.get(f"/dossiers/{case.pk}/").content.decode()


def test_creditor_user_cannot_ask(client, case, users, mailoutbox, django_capture_on_commit_callbacks):
    with pytest.raises(ApplicationError) as exc:
        ask(case, users.creditor_admin)
    assert exc.value.message == "Seule l'agence peut demander une décision au créancier."

    client.force_login(users.approver)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/dossiers/{case.pk}/decisions/", {"kind": "court_action", "proposal": "Moi-même"})
    assert response.status_code == 302
    assert flash(response) == ["Seule l'agence peut demander une décision au créancier."]

    assert not ApprovalRequest.objects.exists()
    assert not AuditEvent.objects.filter(verb__startswith="approval.").exists()
    assert not Notification.objects.exists()
    assert mailoutbox == []


def test_asking_refusals_write_nothing(case, users):
    refusals = [
        (dict(kind="autre"), "Objet de décision inconnu : « autre »."),
        (dict(proposal="   "), "Décrivez la proposition soumise au créancier."),
        (dict(due_on=timezone.localdate() - timedelta(days=1)), "La date de réponse souhaitée est passée."),
    ]
    for extra, message in refusals:
        with pytest.raises(ApplicationError) as exc:
            ask(case, users.agent, **extra)
        assert exc.value.message == message

    assert not ApprovalRequest.objects.exists()
    assert not Notification.objects.exists()


def test_a_long_plan_says_the_duration_of_the_creditors_contract(client, reference, case, users):
    """The choice's label is neutral (a model cannot read terms); pages and notifications give the figure."""
    ContractTerms.objects.filter(creditor=reference.cpam).update(max_plan_months=9)

    approval = ask(case, users.agent, kind=ApprovalKind.LONG_PLAN, proposal="20 mensualités de 30 €.")

    assert approval.get_kind_display() == "Plan d'apurement au-delà de la durée du contrat"
    label = "Plan d'apurement de plus de 9 mois (durée maximale du contrat)"
    assert approval.kind_label == label
    assert Notification.objects.filter(kind="approval_requested").first().title == (
        f"Décision attendue sur le dossier DEC-0001 : {label}"
    )
    client.force_login(users.approver)
    for url in ("/validations/", f"/dossiers/{case.pk}/"):
        html = client.get(url).content.decode().replace("&#x27;", "'")
        assert label in html, url
        assert "6 mois" not in html


def test_cannot_ask_on_an_ended_case(reference, users):
    case = make_case(structure=reference.csr, reference="DEC-SOLDE")
    pay_in_full(case)

    with pytest.raises(ApplicationError) as exc:
        ask(case, users.agent)

    assert exc.value.message == "Le dossier DEC-SOLDE est terminé : aucune décision ne peut être demandée."
    assert not ApprovalRequest.objects.exists()


# --- the inbox and who may decide -------------------------------------------------------------------------


def test_collaborator_sees_the_request_but_cannot_decide(client, case, users):
    approval = ask(case, users.agent, proposal="PROPOSITION-A-VOIR")
    client.force_login(users.collaborator)

    html = client.get("/validations/").content.decode()

    assert "PROPOSITION-A-VOIR" in html
    assert "En attente de décision (1)" in html
    assert f'action="/validations/{approval.pk}/decision/"' not in html
    assert 'name="decision"' not in html
    assert "la décision revient aux valideurs du créancier" in html

    with pytest.raises(ApplicationError) as exc:
        approval_decide(approval=approval, accept=True, comment="", actor=users.collaborator)
    assert exc.value.message.startswith("Seuls les valideurs")
    assert exc.value.message == "Seuls les valideurs du créancier peuvent prendre cette décision."

    response = client.post(f"/validations/{approval.pk}/decision/", {"decision": "accept", "comment": ""})
    assert response.status_code == 302
    assert flash(response) == ["Seuls les valideurs du créancier peuvent prendre cette décision."]
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert approval.decided_by is None
    assert not AuditEvent.objects.filter(verb="approval.decided").exists()


def test_agency_cannot_decide(case, users):
    approval = ask(case, users.agent)

    with pytest.raises(ApplicationError) as exc:
        approval_decide(approval=approval, accept=True, comment="", actor=users.supervisor)

    assert exc.value.message == "Seuls les valideurs du créancier peuvent prendre cette décision."
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_another_creditors_admin_cannot_decide(case, users):
    approval = ask(case, users.agent)

    with pytest.raises(ApplicationError) as exc:
        approval_decide(approval=approval, accept=True, comment="", actor=users.other_admin)

    assert exc.value.message == "Seuls les valideurs du créancier peuvent prendre cette décision."
    approval.refresh_from_db()
    assert (approval.status, approval.decided_by) == (ApprovalStatus.PENDING, None)
    assert not AuditEvent.objects.filter(verb="approval.decided").exists()
    assert not Notification.objects.filter(kind="approval_decided").exists()


def test_approver_sees_the_decision_form(client, case, users):
    approval = ask(case, users.agent)
    client.force_login(users.approver)

    html = client.get("/validations/").content.decode()

    assert f'action="/validations/{approval.pk}/decision/"' in html
    assert f'id="decision-{approval.pk}-decision_0"' in html and 'value="accept"' in html
    assert f'id="decision-{approval.pk}-decision_1"' in html


def test_approver_accepts_through_the_inbox(client, case, users, mailoutbox):
    asker = make_user("agent")
    approval = ask(case, asker)
    Notification.objects.all().delete()
    client.force_login(users.approver)

    response = client.post(f"/validations/{approval.pk}/decision/", {"decision": "accept", "comment": " D'accord. "})

    assert response.status_code == 302
    assert response["Location"] == "/validations/"
    assert flash(response) == ["Décision enregistrée : l'agence est prévenue."]
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.ACCEPTED
    assert approval.decided_by == users.approver
    assert approval.decided_at is not None
    assert approval.decision_comment == "D'accord."
    event = AuditEvent.objects.get(verb="approval.decided")
    assert event.actor == users.approver
    assert event.case_pk == case.pk
    assert event.before == {"status": "pending"}
    assert event.after == {"status": "accepted", "comment": "D'accord."}
    # The asking agent, the case's agent and the référent are told.
    assert recipients(kind="approval_decided") == {asker.pk, users.agent.pk, users.supervisor.pk}
    note = Notification.objects.get(recipient=asker)
    assert note.title == "Le créancier a accepté : Autorisation d'une action en justice (DEC-0001)"
    assert note.url == f"/dossiers/{case.pk}/#decisions"
    assert note.urgent is False
    assert not Notification.objects.filter(recipient__creditor__isnull=False).exists()
    assert mailoutbox == []  # a decision is not urgent: it goes in the digest

    html = client.get("/validations/").content.decode()
    assert "Aucune décision en attente." in html
    assert "Acceptée — D&#x27;accord." in html


def test_refusal_needs_a_comment(client, case, users):
    approval = ask(case, users.agent)
    Notification.objects.all().delete()

    with pytest.raises(ApplicationError) as exc:
        approval_decide(approval=approval, accept=False, comment="   ", actor=users.approver)
    assert exc.value.message == "Indiquez le motif du refus."
    client.force_login(users.creditor_admin)
    response = client.post(f"/validations/{approval.pk}/decision/", {"decision": "refuse", "comment": ""})
    assert flash(response) == []  # beside the comment, on the decisions page
    html = client.get("/validations/").content.decode()
    assert f'id="decision-{approval.pk}-comment_error"><p>Indiquez le motif du refus.</p>' in html

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert approval.decided_by is None
    assert not AuditEvent.objects.filter(verb="approval.decided").exists()
    assert not Notification.objects.exists()

    response = client.post(f"/validations/{approval.pk}/decision/", {"decision": "refuse", "comment": "Trop coûteux"})
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.REFUSED
    assert approval.decided_by == users.creditor_admin
    assert approval.decision_comment == "Trop coûteux"
    assert Notification.objects.get(recipient=users.agent).title.startswith("Le créancier a refusé")


def test_invalid_decision_value_is_refused(client, case, users):
    approval = ask(case, users.agent)
    client.force_login(users.approver)

    response = client.post(f"/validations/{approval.pk}/decision/", {"decision": "peut-etre"})

    assert response.status_code == 302
    assert flash(response) == []
    html = client.get("/validations/").content.decode()
    assert f'id="decision-{approval.pk}-decision_error"><p>Sélectionnez un choix valide' in html
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_deciding_twice_is_refused(case, users):
    approval = ask(case, users.agent)
    approval_decide(approval=approval, accept=True, comment="", actor=users.approver)

    with pytest.raises(ApplicationError) as exc:
        approval_decide(approval=approval, accept=False, comment="Finalement non", actor=users.creditor_admin)

    assert exc.value.message == "Cette demande a déjà été traitée (acceptée)."
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.ACCEPTED
    assert approval.decided_by == users.approver
    assert AuditEvent.objects.filter(verb="approval.decided").count() == 1


# --- isolation --------------------------------------------------------------------------------------------


def test_other_creditor_approver_gets_404(client, reference, case, users):
    approval = ask(case, users.agent, proposal="PROPOSITION-CPAM")
    other_approver = make_user("creditor_approver", creditor=reference.other)
    for user in (users.other_admin, other_approver):
        client.force_login(user)
        response = client.post(f"/validations/{approval.pk}/decision/", {"decision": "accept", "comment": ""})
        assert response.status_code == 404
        html = client.get("/validations/").content.decode()
        assert "PROPOSITION-CPAM" not in html
        assert "Aucune décision en attente." in html
        with pytest.raises(ApplicationError):
            approval_decide(approval=approval, accept=True, comment="", actor=user)

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert not AuditEvent.objects.filter(verb="approval.decided").exists()


def test_approver_limited_to_another_structure_gets_404(client, case, users, limited):
    approval = ask(case, users.agent, proposal="PROPOSITION-CSR")
    client.force_login(limited.cdop_approver)

    response = client.post(f"/validations/{approval.pk}/decision/", {"decision": "accept", "comment": ""})

    assert response.status_code == 404
    assert "PROPOSITION-CSR" not in client.get("/validations/").content.decode()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_approver_limited_to_the_case_structure_may_decide(case, users, limited):
    approval = ask(case, users.agent)

    approval_decide(approval=approval, accept=True, comment="", actor=limited.csr_approver)

    approval.refresh_from_db()
    assert (approval.status, approval.decided_by) == (ApprovalStatus.ACCEPTED, limited.csr_approver)
