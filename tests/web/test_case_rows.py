"""`{% case_rows %}` writes the rows of a case table in Python: byte for byte what the template loop it replaced
wrote (kept in case_rows_loop.html), for every combination of the table's options and awkward cases (markup in names, no
agent, a late or undated next action, no task at all)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.template import engines
from django.utils import timezone

from amiable.cases.models import TaskKind
from amiable.cases.selectors import case_list
from amiable.cases.services import task_open
from tests.factories import make_case

# The loop of web/_case_table.html before `{% case_rows %}`.
LOOP = (Path(__file__).parent / "case_rows_loop.html").read_text().removesuffix("\n")
TAG = (
    "{% load case_rows %}{% case_rows cases selectable=selectable show_creditor=show_creditor "
    "show_work=show_work today=today colspan=colspan %}"
)
OPTIONS = [
    {"selectable": s, "show_creditor": c, "show_work": w, "today": t, "colspan": n}
    for s in (True, False)
    for c in (True, False)
    for w in (True, False)
    for t in (timezone.localdate(), None)
    for n in (10, None)
]


def render(source: str, context: dict) -> str:
    return engines["django"].from_string(source).render(context)


@pytest.fixture
def cases(reference, users):
    today = timezone.localdate()
    plain = make_case(structure=reference.csr, reference="R<1>&\"'", last_name="O'Hara <b>", first_name="Zoé")
    late = make_case(structure=reference.cdop, principal="1234567.89", assigned_agent=users.agent)
    soon = make_case(structure=reference.other_structure, principal="0.01", assigned_agent=users.supervisor)
    task_open(case=late, kind=TaskKind.CALL, reason="r", due_on=today - timedelta(days=3))
    task_open(case=soon, kind=TaskKind.CALLBACK, reason="r", due_on=today + timedelta(days=2))
    task_open(case=plain, kind=TaskKind.CALL, reason="r", due_on=None)  # undated: no next action
    found = list(case_list(user=users.supervisor).filter(pk__in=[plain.pk, late.pk, soon.pk]).order_by("pk"))
    assert len(found) == 3
    return found


@pytest.mark.parametrize("options", OPTIONS, ids=repr)
def test_rows_match_the_template_loop(cases, options):
    for labelled in (False, True):
        for case in cases:
            if labelled:  # as the list's view sets it; home pages leave it out
                case.next_action_label = TaskKind(case.next_action_kind).label if case.next_action_kind else ""
        context = {"cases": cases, **options}
        assert render(TAG, context) == render(LOOP, context)


@pytest.mark.parametrize("options", OPTIONS, ids=repr)
def test_no_case_matches_the_template_loop(db, options):
    context = {"cases": [], **options}
    assert render(TAG, context) == render(LOOP, context)


def test_missing_options_match_the_template_loop(cases):
    """The home pages' tables give no `selectable`, `show_work`, `today` nor `colspan`."""
    for context in ({"cases": cases}, {"cases": cases, "show_creditor": True}, {"cases": []}):
        assert render(TAG, context) == render(LOOP, context)
