"""The form renderer (settings.FORM_RENDERER): Django's own, except that the commonest widgets — text-like
inputs, check boxes, selects and text areas — are written in Python instead of through Django's widget
templates.

Why: each widget is a template with its own includes (the attributes, then one include per option of a
select), which the template engine walks node by node. A case list renders nine filters, three of them
selects with dozens of options, and the case page a dozen forms: the widgets alone took a fifth of those
pages' server time. The functions below produce exactly the bytes of Django's templates
(django/forms/templates/django/forms/widgets/: input.html, attrs.html, select.html, select_option.html,
textarea.html), tested against them in tests/core/test_form_rendering.py; every other widget (radio buttons,
multiple check boxes, files, multi-widgets, a project's own template) still goes through its template."""

import html

from django.forms.renderers import DjangoTemplates
from django.template.defaultfilters import stringformat
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, mark_safe
from django.utils.timezone import template_localtime

WIDGETS = "django/forms/widgets/"
# Templates that are exactly `{% include "django/forms/widgets/input.html" %}`.
INPUTS = frozenset(
    WIDGETS + name + ".html"
    for name in (
        "input",
        "text",
        "email",
        "number",
        "date",
        "datetime",
        "time",
        "hidden",
        "password",
        "tel",
        "url",
        "search",
        "color",
        "checkbox",
        "file",
    )
)
SELECT = WIDGETS + "select.html"
SELECT_OPTION = WIDGETS + "select_option.html"
TEXTAREA = WIDGETS + "textarea.html"


def template_value(value) -> str:
    """`{{ value }}` in an autoescaping template: local time, localised, escaped unless marked safe."""
    if type(value) is str:
        return html.escape(value)  # what the three steps below do to a plain string, in one call
    return conditional_escape(localize(template_localtime(value)))


def _formatted(value) -> str:
    """`{{ value|stringformat:'s' }}`: the filter keeps a safe value safe (it is declared `is_safe`)."""
    text = stringformat(value, "s")
    return template_value(mark_safe(text) if isinstance(value, SafeData) else text)


def _attrs(attrs: dict) -> str:
    """django/forms/widgets/attrs.html: ` name="value"`, a bare ` name` for True, nothing for False."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {template_value(name)}" if value is True else f' {template_value(name)}="{_formatted(value)}"')
    return "".join(parts)


def _input(widget: dict) -> str:
    value = widget["value"]
    shown = f' value="{_formatted(value)}"' if value is not None else ""
    kind, name = template_value(widget["type"]), template_value(widget["name"])
    return f'<input type="{kind}" name="{name}"{shown}{_attrs(widget["attrs"])}>'


def _option(option: dict) -> str:
    label = template_value(option["label"])
    return f'<option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>{label}</option>'


def _select(widget: dict) -> str | None:
    parts = [f'<select name="{template_value(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{template_value(group_name)}">')
        for option in group_choices:
            if option["template_name"] != SELECT_OPTION:
                return None  # a select whose options have their own template: Django renders it
            parts.append(f"\n  {_option(option)}\n")
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _textarea(widget: dict) -> str:
    value = widget["value"]
    text = template_value(value) if value else ""
    return f'<textarea name="{template_value(widget["name"])}"{_attrs(widget["attrs"])}>\n{text}</textarea>'


class FormRenderer(DjangoTemplates):
    """Django's default renderer, with the widgets above written directly."""

    def render(self, template_name, context, request=None):
        html = None
        if template_name in INPUTS:
            html = _input(context["widget"])
        elif template_name == SELECT:
            html = _select(context["widget"])
        elif template_name == TEXTAREA:
            html = _textarea(context["widget"])
        if html is None:
            return super().render(template_name, context, request=request)
        return mark_safe(html.strip())  # every value above is escaped
