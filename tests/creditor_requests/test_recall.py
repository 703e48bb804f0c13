"""The recall of a case by the creditor (C13): everything pending is cancelled, the case is returned, the
agency is told at once; only deciders may recall, only an open case, and only with the confirmation."""

import pytest
from django.contrib.messages import get_messages

from amiable.approvals.models import ApprovalRequest, ApprovalStatus
from amiable.approvals.services import approval_decide, approval_request
from amiable.audit.models import AuditEvent
from amiable.cases.models import Case, CaseStatus, Comment, Task, TaskStatus
from amiable.cases.services import case_transition, comment_add
from amiable.core.exceptions import ApplicationError
from amiable.creditor_requests.models import CreditorRequest, RequestStatus
from amiable.creditor_requests.services import case_recall, request_answer, request_create
from amiable.notifications.models import Notification
from tests.factories import make_case, pay_in_full

REASON = "Le débiteur a saisi la commission de surendettement."


@pytest.fixture
def case(reference, users):
    reference.cpam.referent = users.supervisor
    reference.cpam.save()
    return make_case(structure=reference.csr, reference="RET-0001", assigned_agent=users.agent)


@pytest.fixture
def pending_work(reference, case, users):
    """Open and finished work on the case, and on a neighbour case that the recall must not touch."""
    neighbour = make_case(structure=reference.csr, reference="RET-VOISIN", assigned_agent=users.agent)
    work = type("Work", (), {})()
    work.open_task = Task.objects.create(case=case, kind="address_investigation", reason="Adresse douteuse")
    work.neighbour_task = Task.objects.create(case=neighbour, kind="address_investigation")
    work.pending = approval_request(case=case, kind="court_action", proposal="Assigner", actor=users.agent)
    work.decided = approval_request(case=case, kind="exchange", proposal="Échanger", actor=users.agent)
    approval_decide(approval=work.decided, accept=True, comment="", actor=users.approver)
    work.neighbour_pending = approval_request(case=neighbour, kind="exchange", proposal="Voisin", actor=users.agent)
    work.open_request = request_create(kind="question", body="Situation ?", actor=users.collaborator, case=case)
    work.answered_request = request_create(kind="question", body="Adresse ?", actor=users.collaborator, case=case)
    request_answer(request=work.answered_request, answer="Adresse vérifiée", actor=users.agent)
    work.meeting = request_create(kind="meeting", body="Réunion", actor=users.collaborator)
    Notification.objects.all().delete()
    return work


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def url(case) -> str:
    return f"/dossiers/{case.pk}/retrait/"


def test_recall_by_an_approver_cancels_everything_pending(
    client, case, users, pending_work, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(users.approver)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(case), {"reason": f"  {REASON}  ", "confirm": "on"})

    assert response.status_code == 302
    assert response["Location"] == f"/dossiers/{case.pk}/"
    assert flash(response) == ["Dossier retiré."]
    case.refresh_from_db()
    assert case.status == CaseStatus.RECALLED
    assert case.status_changed_at is not None
    assert not case.is_open

    work = pending_work
    for obj in (work.open_task, work.neighbour_task):
        obj.refresh_from_db()
    assert work.open_task.status == TaskStatus.CANCELLED
    assert work.open_task.closed_at is not None
    assert work.neighbour_task.status == TaskStatus.OPEN

    statuses = dict(ApprovalRequest.objects.values_list("pk", "status"))
    assert statuses[work.pending.pk] == ApprovalStatus.CANCELLED
    assert statuses[work.decided.pk] == ApprovalStatus.ACCEPTED
    assert statuses[work.neighbour_pending.pk] == ApprovalStatus.PENDING
    assert ApprovalRequest.objects.get(pk=work.pending.pk).decision_comment == "Dossier retiré par le créancier"
    cancelled = AuditEvent.objects.get(verb="approval.cancelled")
    assert cancelled.target_id == str(work.pending.pk)
    assert cancelled.actor == users.approver
    assert cancelled.case_pk == case.pk
    assert cancelled.after == {"status": "cancelled", "reason": "Dossier retiré par le créancier"}

    statuses = dict(CreditorRequest.objects.values_list("pk", "status"))
    assert statuses[work.open_request.pk] == RequestStatus.CANCELLED
    assert statuses[work.answered_request.pk] == RequestStatus.ANSWERED
    assert statuses[work.meeting.pk] == RequestStatus.OPEN  # not about this case

    changed = AuditEvent.objects.get(verb="case.status_changed", case_pk=case.pk)
    assert changed.actor == users.approver
    assert changed.actor_label == users.approver.email
    assert changed.before == {"status": "new"}
    assert changed.after == {"status": "recalled", "reason": REASON}
    recalled = AuditEvent.objects.get(verb="case.recalled")
    assert recalled.actor == users.approver
    assert recalled.case_pk == case.pk
    assert recalled.after == {
        "reason": REASON,
        "cancelled_tasks": 1,
        "cancelled_approvals": 1,
        "cancelled_requests": 1,
    }

    # Urgent for the agency (agent and référent), e-mailed at once; plain for the creditor's other staff.
    urgent = Notification.objects.filter(kind="case_recalled", urgent=True)
    assert {n.recipient_id for n in urgent} == {users.agent.pk, users.supervisor.pk}
    assert urgent.first().title == "Dossier RET-0001 retiré par le créancier"
    assert urgent.first().body == REASON
    assert sorted(m.to[0] for m in mailoutbox) == sorted([users.agent.email, users.supervisor.email])
    assert all(m.subject == "[Amiable] Dossier RET-0001 retiré par le créancier" for m in mailoutbox)
    colleagues = Notification.objects.filter(kind="case_recalled", urgent=False)
    assert {n.recipient_id for n in colleagues} == {
        users.collaborator.pk,
        users.creditor_admin.pk,
        users.csr_only.pk,
    }
    assert not Notification.objects.filter(recipient=users.other_admin).exists()


def test_the_case_page_shows_the_recall_in_the_timeline(client, case, users):
    case_recall(case=case, reason=REASON, actor=users.approver)

    for user in (users.agent, users.collaborator):
        client.force_login(user)
        html = client.get(f"/dossiers/{case.pk}/").content.decode()
        assert '<span class="status status-recalled">Retourné au créancier</span>' in html
        assert "<strong>Changement de statut</strong> : Nouveau → Retourné au créancier — " in html
        assert "surendettement" in html
        assert users.approver.get_full_name() in html  # by name, never by e-mail address
        assert users.approver.email not in html
        # An ended case has no recall form nor decision form any more.
        assert f'action="/dossiers/{case.pk}/retrait/"' not in html
        assert f'action="/dossiers/{case.pk}/decisions/"' not in html


def test_recall_without_confirmation_does_nothing(client, case, users, pending_work):
    client.force_login(users.approver)

    response = client.post(url(case), {"reason": REASON})

    assert response.status_code == 302
    assert flash(response) == []  # the form comes back on the case page, the error beside the box
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert '<div class="errors" id="retrait-confirm_error"><p>Ce champ est obligatoire.</p></div>' in html
    assert_nothing_happened(case, pending_work)


def test_recall_without_reason_does_nothing(client, case, users, pending_work):
    client.force_login(users.approver)

    response = client.post(url(case), {"reason": "   ", "confirm": "on"})

    assert flash(response) == []
    html = client.get(f"/dossiers/{case.pk}/").content.decode()
    assert '<div class="errors" id="retrait-reason_error"><p>Ce champ est obligatoire.</p></div>' in html
    with pytest.raises(ApplicationError) as exc:
        case_recall(case=case, reason="  ", actor=users.approver)
    assert exc.value.message == "Indiquez le motif du retrait du dossier."
    assert_nothing_happened(case, pending_work)


def assert_nothing_happened(case, work) -> None:
    case.refresh_from_db()
    assert case.status == CaseStatus.NEW
    work.open_task.refresh_from_db()
    assert work.open_task.status == TaskStatus.OPEN
    assert ApprovalRequest.objects.get(pk=work.pending.pk).status == ApprovalStatus.PENDING
    assert CreditorRequest.objects.get(pk=work.open_request.pk).status == RequestStatus.OPEN
    assert not AuditEvent.objects.filter(
        verb__in=["case.recalled", "case.status_changed", "approval.cancelled"]
    ).exists()
    assert not Notification.objects.filter(kind="case_recalled").exists()


@pytest.mark.parametrize("role", ["collaborator", "csr_only", "agent", "supervisor"])
def test_only_creditor_deciders_may_recall(client, case, users, pending_work, role):
    user = getattr(users, role)

    with pytest.raises(ApplicationError) as exc:
        case_recall(case=case, reason=REASON, actor=user)
    assert exc.value.message == "Seuls les valideurs et administrateurs du créancier peuvent retirer un dossier."

    client.force_login(user)
    response = client.post(url(case), {"reason": REASON, "confirm": "on"})
    assert response.status_code == 302
    assert flash(response) == ["Seuls les valideurs et administrateurs du créancier peuvent retirer un dossier."]
    assert_nothing_happened(case, pending_work)


def test_another_creditors_admin_cannot_recall_through_the_service(case, users, pending_work):
    """The page answers 404 (the case is not theirs); the service refuses too, for the coming API."""
    with pytest.raises(ApplicationError) as exc:
        case_recall(case=case, reason=REASON, actor=users.other_admin)
    assert exc.value.message == "Seuls les valideurs et administrateurs du créancier peuvent retirer un dossier."
    assert_nothing_happened(case, pending_work)


def test_collaborator_page_has_no_recall_form(client, case, users):
    client.force_login(users.collaborator)
    assert f'action="/dossiers/{case.pk}/retrait/"' not in client.get(f"/dossiers/{case.pk}/").content.decode()
    client.force_login(users.creditor_admin)
    assert f'action="/dossiers/{case.pk}/retrait/"' in client.get(f"/dossiers/{case.pk}/").content.decode()


def test_creditor_admin_may_recall(case, users):
    case_recall(case=case, reason=REASON, actor=users.creditor_admin)

    case.refresh_from_db()
    assert case.status == CaseStatus.RECALLED


@pytest.mark.parametrize(
    ("path", "label"),
    [(["paid"], "soldé"), (["paid", "closed"], "clos"), (["irrecoverable"], "irrécouvrable")],
)
def test_an_ended_case_cannot_be_recalled(client, reference, users, path, label):
    case = make_case(structure=reference.csr, reference="RET-FINI")
    for status in path:
        if status == "paid":
            pay_in_full(case)
        else:
            case_transition(case=case, to=status, actor=None)
    status_before = Case.objects.get(pk=case.pk).status

    with pytest.raises(ApplicationError) as exc:
        case_recall(case=case, reason=REASON, actor=users.approver)

    assert exc.value.message == f"Le dossier RET-FINI est déjà terminé ({label})."
    assert Case.objects.get(pk=case.pk).status == status_before
    assert not AuditEvent.objects.filter(verb="case.recalled").exists()
    client.force_login(users.approver)
    response = client.post(url(case), {"reason": REASON, "confirm": "on"})
    assert flash(response) == [f"Le dossier RET-FINI est déjà terminé ({label})."]
    assert not AuditEvent.objects.filter(verb="case.recalled").exists()


def test_a_case_cannot_be_recalled_twice(case, users):
    case_recall(case=case, reason=REASON, actor=users.approver)

    with pytest.raises(ApplicationError) as exc:
        case_recall(case=case, reason="Encore", actor=users.creditor_admin)

    assert exc.value.message == "Le dossier RET-0001 est déjà terminé (retourné au créancier)."
    assert AuditEvent.objects.filter(verb="case.recalled").count() == 1


def test_after_a_recall_comments_work_but_decisions_are_refused(case, users):
    case_recall(case=case, reason=REASON, actor=users.approver)

    comment_add(case=case, author=users.agent, body="Dossier rendu, pièces renvoyées.")
    comment_add(case=case, author=users.collaborator, body="Bien reçu.")
    assert Comment.objects.filter(case=case).count() == 2

    with pytest.raises(ApplicationError) as exc:
        approval_request(case=case, kind="court_action", proposal="Assigner", actor=users.agent)
    assert exc.value.message == "Le dossier RET-0001 est terminé : aucune décision ne peut être demandée."
    assert "terminé" in exc.value.message
    assert not ApprovalRequest.objects.exists()


def test_other_creditor_and_other_structure_get_404(client, reference, case, users):
    cdop_approver = type(users.approver).objects.get(pk=users.approver.pk)
    cdop_approver.structures.set([reference.cdop])
    cdop_approver.all_structures = False
    cdop_approver.save(update_fields=["all_structures"])
    for user in (users.other_admin, cdop_approver):
        client.force_login(user)
        response = client.post(url(case), {"reason": REASON, "confirm": "on"})
        assert response.status_code == 404

    case.refresh_from_db()
    assert case.status == CaseStatus.NEW
    assert not AuditEvent.objects.filter(verb="case.recalled").exists()
    with pytest.raises(ApplicationError):
        case_recall(case=case, reason=REASON, actor=users.other_admin)
