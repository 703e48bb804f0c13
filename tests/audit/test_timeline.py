"""The timeline registry (audit.timeline): every verb the code writes is declared by its app with a French
label, the verbs kept from creditor staff are the agency's own business, and a verb cannot be claimed twice.
Verbs written at run time are also checked by the `_audit_verbs_declared` fixture of tests/conftest.py."""

import ast
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured

import amiable
from amiable.audit.admin import AuditedAdminMixin
from amiable.audit.models import AuditEvent
from amiable.audit.timeline import (
    event_details,
    internal_verbs,
    iso_date_fr,
    register_verb,
    verb_get,
    verb_label,
    verbs_registered,
)

AMIABLE = Path(amiable.__file__).resolve().parent

# Files where `verb=` is not a literal, and why that is checked elsewhere or is no write.
DYNAMIC_VERBS = {
    "cases/selectors.py": "TimelineEntry(verb=event.verb): reads the trail, writes nothing",
    "audit/admin.py": "<prefix>.created/updated/deleted of the administration: test_every_admin_verb_is_declared",
    "creditors/services.py": "agency, creditor, structure, terms .created/.updated: the administration's verbs too",
    "contact/messaging.py": "<channel>.queued/sent/failed/retried/cancelled: email and sms, declared by contact",
}

# What creditor staff never see on a case timeline nor as the claims report's last action.
EXPECTED_INTERNAL = {
    "case_counters.rebuilt",
    "task_agents.repaired",
    "email.document_queued",
    "ledger.posted",
    "case.assigned",
    "comment.internal_added",
    "scenario.step_run",
    "scenario.step_skipped",
    "debtor.do_not_contact_set",
    "case.internal_event_recorded",
    "task.opened",
    "task.done",
    "tasks.cancelled",
    # The delivery's own course: the creditor sees a message once it has gone (« E-mail envoyé »).
    *(f"{channel}.{step}" for channel in ("email", "sms") for step in ("queued", "failed", "retried", "cancelled")),
    # The agency's own bank account: its statements and the review of their credits (the payment is shown).
    *(f"bank_statement.{step}" for step in ("imported", "duplicate", "refused")),
    *(f"bank_entry.{step}" for step in ("assigned", "linked", "dismissed")),
}


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            constants.update({target.id: node.value.value for target in node.targets if isinstance(target, ast.Name)})
    return constants


def _verbs_of(expr: ast.expr, constants: dict[str, str]) -> set[str] | None:
    """The verbs an expression can be; None when it is built at run time."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.IfExp):
        body, orelse = _verbs_of(expr.body, constants), _verbs_of(expr.orelse, constants)
        return None if body is None or orelse is None else body | orelse
    if isinstance(expr, ast.Name) and expr.id in constants:
        return {constants[expr.id]}
    if isinstance(expr, ast.Name) and expr.id == "verb":
        return set()  # a parameter passed on: its callers and its default are read where they are
    return None


def verbs_in_source() -> tuple[dict[str, set[str]], set[str]]:
    """Every verb written as `verb=…` or as the default of a `verb` parameter in amiable/, by file, and the
    files where a verb is built at run time."""
    found: dict[str, set[str]] = {}
    dynamic: set[str] = set()
    for path in sorted(AMIABLE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        name = str(path.relative_to(AMIABLE))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _module_constants(tree)
        expressions = []
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "verb":
                expressions.append(node.value)
            elif isinstance(node, ast.arguments):
                params = node.posonlyargs + node.args
                defaults = list(zip(params[len(params) - len(node.defaults) :], node.defaults, strict=True))
                defaults += [(a, d) for a, d in zip(node.kwonlyargs, node.kw_defaults, strict=True) if d is not None]
                expressions += [default for arg, default in defaults if arg.arg == "verb"]
        for expr in expressions:
            verbs = _verbs_of(expr, constants)
            if verbs is None:
                dynamic.add(name)
            else:
                found.setdefault(name, set()).update(verbs)
    return found, dynamic


def test_every_verb_written_in_the_code_is_declared():
    found, _ = verbs_in_source()
    undeclared = sorted(f"{verb} ({name})" for name, verbs in found.items() for verb in verbs if not verb_get(verb))
    assert not undeclared, "Declare these verbs with register_verb in their app's ready(): " + ", ".join(undeclared)


def test_the_scan_sees_the_verbs_of_every_app():
    found, _ = verbs_in_source()
    every = set().union(*found.values())
    # Literal, conditional, module constant and parameter default: each way a verb is written today.
    assert {"letter.issued", "comment.internal_added", "case.internal_event_recorded", "task.done"} <= every
    assert {"promise.recorded", "call.recorded", "promise.kept", "tasks.cancelled", "scenario.step_skipped"} <= every


def test_verbs_built_at_run_time_are_only_where_they_are_checked():
    _, dynamic = verbs_in_source()
    assert dynamic == set(DYNAMIC_VERBS)


def test_every_admin_verb_is_declared():
    """AuditedAdminMixin writes <prefix>.created/updated/deleted for its model and for its inline rows."""
    prefixes = set()
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, AuditedAdminMixin):
            prefixes.add(model_admin.audit_prefix or model._meta.model_name)
            prefixes.update(inline.model._meta.model_name for inline in model_admin.inlines)
    assert {"letter_template", "scenario", "scenariostep", "user", "terms", "structure"} <= prefixes
    verbs = {f"{prefix}.{action}" for prefix in prefixes for action in ("created", "updated", "deleted")}
    assert not sorted(verb for verb in verbs if not verb_get(verb))


def test_every_declared_verb_has_a_french_label():
    for verb, entry in verbs_registered().items():
        assert entry.label and entry.label != verb and entry.label[0].isupper(), verb


def test_internal_verbs_are_the_agencys_own_business():
    assert internal_verbs() == EXPECTED_INTERNAL


def test_a_verb_cannot_be_declared_twice_with_another_meaning():
    register_verb("case.created", label=verb_label("case.created"), describe=verb_get("case.created").describe)
    with pytest.raises(ImproperlyConfigured, match="case.created"):
        register_verb("case.created", label="Autre chose")
    with pytest.raises(ImproperlyConfigured, match="task.opened"):
        register_verb("task.opened", label="Tâche ouverte", internal=False)
    assert verb_label("case.created") == "Dossier reçu"
    assert "task.opened" in internal_verbs()


def test_an_undeclared_verb_shows_as_itself_without_details():
    event = AuditEvent(verb="ancien.verbe", after={"x": 1})
    assert verb_label("ancien.verbe") == "ancien.verbe"
    assert event_details(event) == ""


@pytest.mark.parametrize(
    ("verb", "after", "details"),
    [
        ("tasks.cancelled", {"tasks": [1, 2], "reason": "Décès du débiteur"}, "2 tâches — Décès du débiteur"),
        ("tasks.cancelled", {"tasks": [3], "reason": ""}, "1 tâche"),
        (
            "promise.kept",
            {"status": "kept", "amount": "50.00", "due_on": "2026-07-15"},
            "50,00\u00a0€ pour le 15/07/2026",
        ),
        ("call.recorded", {"outcome": "no_answer", "first_letter": "L-2026-000001"}, "pas de réponse"),
        ("debtor.do_not_contact_set", {"do_not_contact": True}, "enregistrée"),
        ("debtor.do_not_contact_set", {"do_not_contact": False}, "levée"),
    ],
)
def test_new_verbs_are_described(verb, after, details):
    assert event_details(AuditEvent(verb=verb, after=after)) == details


def test_dates_of_an_event_read_in_french():
    assert iso_date_fr("2026-11-02") == "02/11/2026"
    assert iso_date_fr(None) == ""
