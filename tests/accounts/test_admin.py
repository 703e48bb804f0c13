"""The technical administration: reserved to agency admins, every change audited, the trail read-only."""

import pytest

from amiable.audit.models import AuditEvent
from amiable.audit.services import audit_record


@pytest.fixture
def admin_client(client, users):
    client.force_login(users.agency_admin)
    return client


def _structure_form(structure, **changes):
    data = {
        "creditor": structure.creditor_id,
        "code": structure.code,
        "name": structure.name,
        "address_line1": structure.address_line1,
        "address_line2": structure.address_line2,
        "postal_code": structure.postal_code,
        "city": structure.city,
        "siret": structure.siret,
        "remittance_iban": "",
        "remittance_bic": "",
        "legal_commitment_number": "",
        "service_code": "",
        "commission_rate": "",
        "is_active": "on",
    }
    data.update(changes)
    return data


def test_structure_change_in_admin_is_audited_with_before_and_after(admin_client, reference, users):
    structure = reference.csr
    response = admin_client.post(
        f"/admin/creditors/structure/{structure.pk}/change/",
        _structure_form(structure, legal_commitment_number="EJ-2026-42", service_code="SRV-7"),
    )
    assert response.status_code == 302
    structure.refresh_from_db()
    assert structure.legal_commitment_number == "EJ-2026-42"
    event = AuditEvent.objects.filter(verb="structure.updated", target_id=str(structure.pk)).get()
    assert event.actor == users.agency_admin
    assert event.before == {"legal_commitment_number": "", "service_code": ""}
    assert event.after == {"legal_commitment_number": "EJ-2026-42", "service_code": "SRV-7"}
    assert event.creditor_pk == reference.cpam.pk


def test_user_structure_limit_change_in_admin_is_audited(admin_client, reference, users):
    user = users.collaborator
    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "role": user.role,
            "creditor": user.creditor_id,
            "structures": [reference.cdop.pk],
            "is_active": "on",
            "date_joined_0": "01/11/2026",
            "date_joined_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.filter(verb="user.updated", target_id=str(user.pk)).get()
    assert event.before["structures"] == []
    assert event.after["structures"] == [str(reference.cdop)]


def test_creditor_and_agent_users_cannot_enter_the_admin(client, users):
    for user in (users.creditor_admin, users.agent):
        client.force_login(user)
        response = client.get("/admin/")
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_audit_events_cannot_be_changed_or_deleted_in_admin(admin_client, users):
    event = audit_record(actor=users.agent, verb="case.test", target=users.agent)
    assert admin_client.get("/admin/audit/auditevent/").status_code == 200
    assert admin_client.get(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403
    response = admin_client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"verb": "autre"})
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.verb == "case.test"
    assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403


def test_users_cannot_be_deleted_in_admin(admin_client, users):
    response = admin_client.get(f"/admin/accounts/user/{users.agent.pk}/delete/")
    assert response.status_code == 403
