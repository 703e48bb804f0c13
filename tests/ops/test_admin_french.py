"""The technical administration speaks French, the third-party apps included (django-axes, django-tasks):
their app names, model names, column labels, choices and object names."""

import re
from html import unescape

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from amiable.accounts.models import User

ENGLISH = [
    "Axes",
    "Access attempts",
    "Access logs",
    "Access failures",
    "Tasks Database Backend",
    "Task Results",
    "Task result",
    "DBTaskResult",
    "object (",
    "User Agent",
    "Enqueued at",
    "Started at",
    "Finished at",
    "Queue name",
    "Priority",
    "Successful",
    "Task name",
]
PAGES = [
    "/admin/",
    "/admin/axes/accessattempt/",
    "/admin/axes/accesslog/",
    "/admin/axes/accessfailurelog/",
    "/admin/django_tasks_database/dbtaskresult/",
]


def _task_result() -> DBTaskResult:
    return DBTaskResult.objects.create(
        task_path="amiable.contact.tasks.outbox_deliver",
        args_kwargs={"args": [1], "kwargs": {}},
        status="SUCCESSFUL",
        backend_name="default",
        queue_name="default",
        run_after=get_date_max(),
        started_at=timezone.now(),
        finished_at=timezone.now(),
        exception_class_path="",
        traceback="",
    )


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser(email="root@test.example", password="x"))
    return client


def test_the_admin_index_and_the_third_party_changelists_have_no_english_label(superuser_client):
    _task_result()  # one task result to list (the tests' backend runs tasks at once, keeping none)
    for url in PAGES:
        response = superuser_client.get(url)
        assert response.status_code == 200, url
        text = _text(response.content.decode())
        assert [word for word in ENGLISH if word in text] == [], url
    index = _text(superuser_client.get("/admin/").content.decode())
    assert "Sécurité des connexions" in index and "Tâches de fond" in index
    assert "Résultats des tâches de fond" in index


def test_a_task_result_is_named_in_french(superuser_client):
    result = _task_result()
    assert str(result).startswith("Tâche outbox_deliver du ")
    url = f"/admin/django_tasks_database/dbtaskresult/{result.pk}/change/"
    page = _text(superuser_client.get(url).content.decode())
    assert "Réussie" in page
    assert "trace de l'erreur" in page.lower()
    assert [word for word in ENGLISH if word in page] == []
