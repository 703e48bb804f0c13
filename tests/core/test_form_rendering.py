"""The project's form renderer writes the common widgets in Python: byte for byte what Django's widget templates
write, for the widgets of every form of the project and for awkward values (quotes, markup, safe strings,
numbers, dates, lazy labels, option groups)."""

import datetime
import importlib
import inspect
import pkgutil
from decimal import Decimal

import pytest
from django import forms
from django.conf import settings
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import amiable
from amiable.core.form_rendering import INPUTS, SELECT, TEXTAREA, FormRenderer

DJANGO = DjangoTemplates()
OURS = FormRenderer()


def both(widget: forms.Widget, name: str, value, attrs=None) -> tuple[str, str]:
    return (
        widget.render(name, value, attrs=attrs, renderer=DJANGO),
        widget.render(name, value, attrs=attrs, renderer=OURS),
    )


def test_the_project_uses_it():
    assert settings.FORM_RENDERER == "amiable.core.form_rendering.FormRenderer"
    assert isinstance(get_default_renderer(), FormRenderer)


def test_it_writes_the_common_widgets_itself(monkeypatch):
    """The fast path is taken (otherwise the comparisons below would compare Django with itself)."""
    calls = []
    monkeypatch.setattr(DjangoTemplates, "render", lambda self, name, context, request=None: calls.append(name))
    for widget in (forms.TextInput(), forms.CheckboxInput(), forms.Select(choices=[(1, "a")]), forms.Textarea()):
        widget.render("x", "1", renderer=OURS)
    assert calls == []
    forms.RadioSelect(choices=[(1, "a")]).render("x", "1", renderer=OURS)
    assert calls == ["django/forms/widgets/radio.html"]


AWKWARD = [
    None,
    "",
    "plain",
    "quote \" and ' apostrophe",
    "<b>markup</b> & ampersand",
    mark_safe("<i>safe</i> &amp;"),
    0,
    12,
    True,
    False,
    Decimal("1234.50"),
    1.5,
    datetime.date(2026, 11, 27),
    datetime.datetime(2026, 11, 27, 14, 5, tzinfo=datetime.UTC),
    gettext_lazy("Mot de passe"),
    ("a", "b"),
]
ATTRS = [
    {},
    {"id": "id_x", "required": True, "disabled": False},
    {"class": 'a "b"', "maxlength": 30, "data-x": mark_safe("<safe>"), "aria-describedby": "id_x_helptext"},
    {"step": Decimal("0.01"), "min": 0, "autofocus": True, "placeholder": gettext_lazy("Adresse e-mail")},
]
INPUT_WIDGETS = [
    forms.TextInput,
    forms.EmailInput,
    forms.NumberInput,
    forms.URLInput,
    forms.PasswordInput,
    forms.HiddenInput,
    forms.DateInput,
    forms.DateTimeInput,
    forms.TimeInput,
    forms.FileInput,
    forms.CheckboxInput,
    lambda: forms.PasswordInput(render_value=True),
    lambda: forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    lambda: forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
]


@pytest.mark.parametrize("make", INPUT_WIDGETS)
@pytest.mark.parametrize("value", AWKWARD, ids=repr)
@pytest.mark.parametrize("attrs", ATTRS, ids=repr)
def test_inputs_match_django(make, value, attrs):
    django, ours = both(make(), "champ", value, attrs)
    assert ours == django


@pytest.mark.parametrize("value", AWKWARD, ids=repr)
@pytest.mark.parametrize("attrs", ATTRS, ids=repr)
def test_textarea_matches_django(value, attrs):
    django, ours = both(forms.Textarea(attrs={"rows": 3}), "texte", value, attrs)
    assert ours == django


CHOICES = [
    [],
    [("", "Tous"), ("moi", "Mes dossiers"), (3, "Élise <Durand> & fils"), (Decimal("1.5"), 1.5)],
    [("", "---------"), ("Groupe « A »", [(1, "un"), (2, mark_safe("<b>deux</b>"))]), (3, gettext_lazy("Oui"))],
    [("Vide", []), (None, "Aucun"), (True, "Vrai"), (datetime.date(2026, 1, 2), datetime.date(2026, 1, 2))],
]


@pytest.mark.parametrize("choices", CHOICES, ids=repr)
@pytest.mark.parametrize("value", ["", "moi", 3, "3", 1, None, [1, 3], ["moi", ""]], ids=repr)
@pytest.mark.parametrize("attrs", ATTRS, ids=repr)
def test_selects_match_django(choices, value, attrs):
    widgets = [forms.Select(choices=choices), forms.SelectMultiple(choices=choices)]
    if not isinstance(value, list):  # Django itself refuses a list there
        widgets.append(forms.NullBooleanSelect())
    for widget in widgets:
        django, ours = both(widget, "choix", value, attrs)
        assert ours == django


def test_a_select_whose_options_have_their_own_template_goes_to_django(monkeypatch):
    class Special(forms.Select):
        option_template_name = "django/forms/widgets/radio_option.html"

    widget = Special(choices=[(1, "un"), (2, "deux")])
    django, ours = both(widget, "choix", 1)
    assert ours == django


text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20)
simple = st.one_of(st.none(), text, st.integers(), st.booleans(), st.decimals(allow_nan=False, allow_infinity=False))


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    value=simple,
    attrs=st.dictionaries(st.sampled_from(["id", "class", "title", "required", "maxlength", "x"]), simple),
    choices=st.lists(st.tuples(simple, text), max_size=5),
)
def test_any_values_match_django(value, attrs, choices):
    for widget in (forms.TextInput(), forms.CheckboxInput(), forms.Textarea(), forms.Select(choices=choices)):
        django, ours = both(widget, "x", value, attrs)
        assert ours == django


def _project_forms():
    """Every form class declared in the project's modules."""
    found = {}
    for module_info in pkgutil.walk_packages(amiable.__path__, "amiable."):
        if ".migrations" in module_info.name or ".management" in module_info.name:
            continue
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, forms.BaseForm) and value.__module__.startswith("amiable."):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


@pytest.mark.django_db
def test_every_widget_of_every_project_form_matches_django():
    """Each field of each form, unbound, with its declared widget (as the pages show them fresh)."""
    compared = 0
    for form_class in _project_forms().values():
        for name, field in form_class.base_fields.items():
            widget = field.widget
            if getattr(field, "queryset", True) is None:
                continue  # a model choice whose queryset the form's own __init__ sets
            if widget.template_name not in INPUTS | {SELECT, TEXTAREA}:
                continue
            for value in (None, field.initial if not callable(field.initial) else None, 'x <y> & "z"'):
                attrs = field.widget_attrs(widget) | {"id": f"id_{name}"}
                django = widget.render(name, field.prepare_value(value), attrs=attrs, renderer=DJANGO)
                ours = widget.render(name, field.prepare_value(value), attrs=attrs, renderer=OURS)
                assert ours == django, (form_class, name)
                compared += 1
    assert compared > 100
