"""The creditor's requests and decisions pages: business labels only (no internal requirement codes), the
requests filtered open / answered / cancelled in the URL and sorted by due time, and the notices of requests
cancelled with their case withdrawn."""

import html as html_lib
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from amiable.approvals.models import ApprovalKind
from amiable.approvals.services import approval_decide, approval_request
from amiable.creditor_requests import hooks
from amiable.creditor_requests.models import CreditorRequest, RequestKind, RequestStatus
from amiable.creditor_requests.services import case_recall, request_answer, request_create
from amiable.notifications.models import Notification
from tests.factories import make_case

PARIS = ZoneInfo("Europe/Paris")
TUESDAY = datetime(2026, 11, 17, 10, 0, tzinfo=PARIS)
# A requirement id of REQUIREMENTS.md in brackets, as « (C30) » or « (durée maximale du contrat, C16) ».
INTERNAL_CODE = re.compile(r"\((?:[^()]*[ ,])?[CLBS]\d+\)")


@pytest.fixture(autouse=True)
def statement_by_hand(monkeypatch):
    monkeypatch.setattr(hooks, "_statement_provider", None)


@pytest.fixture
def cases(reference, users):
    reference.cpam.referent = users.supervisor
    reference.cpam.save()
    return [
        make_case(structure=reference.csr, reference=f"REQ-{n:04d}", assigned_agent=users.agent) for n in range(1, 4)
    ]


def test_the_pattern_finds_codes():
    assert INTERNAL_CODE.search("Autorisation d'une action en justice (C30)")
    assert INTERNAL_CODE.search("Plan (durée maximale du contrat, C16)")
    assert not INTERNAL_CODE.search("Décompte financier (sous 48 h)")


def test_requests_and_decisions_pages_show_no_requirement_code(client, cases, users):
    case = cases[0]
    for kind in ApprovalKind.values:
        approval_request(case=case, kind=kind, proposal=f"Proposition {kind}", actor=users.agent)
    decided = approval_request(case=cases[1], kind=ApprovalKind.COURT_ACTION, proposal="Assigner", actor=users.agent)
    approval_decide(approval=decided, accept=False, comment="Non", actor=users.approver)
    request_create(kind=RequestKind.STATEMENT, body="", actor=users.collaborator, case=case)
    request_create(kind=RequestKind.MEETING, body="Point", actor=users.collaborator)

    pages = {}
    for user in (users.approver, users.collaborator, users.agent):
        client.force_login(user)
        for path in ("/demandes/", "/demandes/?etat=traitees", "/validations/", f"/dossiers/{case.pk}/"):
            response = client.get(path)
            assert response.status_code == 200, path
            pages[(user.email, path)] = html_lib.unescape(response.content.decode())

    assert "Autorisation d'une action en justice" in pages[(users.approver.email, "/validations/")]
    assert "Plan d'apurement de plus de" in pages[(users.approver.email, "/validations/")]
    for key, html in pages.items():
        assert INTERNAL_CODE.search(html) is None, (key, INTERNAL_CODE.search(html).group())
    for label in [*ApprovalKind.labels, *RequestKind.labels]:
        assert INTERNAL_CODE.search(label) is None, label


def test_requests_page_filters_open_answered_cancelled_in_the_url(client, cases, users, django_assert_max_num_queries):
    with time_machine.travel(TUESDAY, tick=False):
        later = request_create(kind=RequestKind.QUESTION, body="Situation ?", actor=users.collaborator, case=cases[0])
        sooner = request_create(kind=RequestKind.STATEMENT, body="", actor=users.collaborator, case=cases[0])
        meeting = request_create(kind=RequestKind.MEETING, body="Point annuel", actor=users.collaborator)
        answered = request_create(kind=RequestKind.QUESTION, body="Adresse ?", actor=users.collaborator, case=cases[1])
        request_answer(request=answered, answer="Adresse vérifiée", actor=users.agent)
        cancelled = request_create(kind=RequestKind.QUESTION, body="Emploi ?", actor=users.collaborator, case=cases[2])
        case_recall(case=cases[2], reason="Surendettement", actor=users.approver)
    cancelled.refresh_from_db()
    assert cancelled.status == RequestStatus.CANCELLED

    with time_machine.travel(TUESDAY + timedelta(hours=1), tick=False):
        client.force_login(users.collaborator)
        with django_assert_max_num_queries(14):
            default = client.get("/demandes/").content.decode()
        opened = client.get("/demandes/?etat=ouvertes").content.decode()
        done = client.get("/demandes/?etat=traitees").content.decode()
        gone = client.get("/demandes/?etat=annulees").content.decode()
        unknown = client.get("/demandes/?etat=nimporte").content.decode()

    # The same list (the pages differ only by their CSRF token).
    for html in (default, unknown):
        assert re.findall(r'id="demande-\d+"', html) == re.findall(r'id="demande-\d+"', opened)
        assert 'href="?etat=ouvertes" aria-current="page"' in html
    # Open requests, the soonest due first: the 48 h statement, then the meeting (5 days), then the question
    # (5 working days, over a weekend).
    for r in (sooner, later, meeting):
        r.refresh_from_db()
    assert sooner.due_at < meeting.due_at < later.due_at
    positions = [opened.index(f'id="demande-{r.pk}"') for r in (sooner, meeting, later)]
    assert positions == sorted(positions)
    assert f'id="demande-{answered.pk}"' not in opened and f'id="demande-{cancelled.pk}"' not in opened
    assert 'href="?etat=ouvertes" aria-current="page">En cours (3)' in opened
    assert "Traitées (1)" in opened and "Annulées (1)" in opened

    assert f'id="demande-{answered.pk}"' in done and "Adresse vérifiée" in done
    assert f'id="demande-{sooner.pk}"' not in done and f'id="demande-{cancelled.pk}"' not in done
    assert 'href="?etat=traitees" aria-current="page"' in done

    assert f'id="demande-{cancelled.pk}"' in gone and "Annulée" in gone
    assert f'id="demande-{answered.pk}"' not in gone


def test_requests_page_paginates_within_its_filter(client, cases, users):
    for n in range(31):
        CreditorRequest.objects.create(
            creditor=cases[0].creditor,
            case=cases[0],
            kind=RequestKind.QUESTION,
            body=f"Question {n}",
            asked_by=users.collaborator,
            asked_at=TUESDAY,
            due_at=TUESDAY + timedelta(days=1),
            status=RequestStatus.ANSWERED,
        )
    client.force_login(users.collaborator)

    html = client.get("/demandes/?etat=traitees").content.decode()

    assert 'href="?etat=traitees&amp;page=2"' in html


def test_recall_withdraws_the_notices_of_the_cancelled_requests(cases, users):
    recalled, other = cases[0], cases[1]
    cancelled = request_create(kind=RequestKind.QUESTION, body="Situation ?", actor=users.collaborator, case=recalled)
    kept = request_create(kind=RequestKind.QUESTION, body="Situation ?", actor=users.collaborator, case=other)
    notices = Notification.objects.filter(kind="request_created")
    assert {n.subject for n in notices} == {f"creditor_request:{cancelled.pk}", f"creditor_request:{kept.pk}"}
    assert all(n.read_at is None for n in notices)

    case_recall(case=recalled, reason="Surendettement", actor=users.approver)

    withdrawn = Notification.objects.filter(kind="request_created", subject=f"creditor_request:{cancelled.pk}")
    assert withdrawn.exists() and all(n.read_at is not None for n in withdrawn)
    still = Notification.objects.filter(kind="request_created", subject=f"creditor_request:{kept.pk}")
    assert still.exists() and all(n.read_at is None for n in still)
    # The agency is still told of the recall itself.
    assert Notification.objects.filter(kind="case_recalled", read_at__isnull=True).exists()
