"""`{% case_rows %}`: the rows of a table of cases (web/_case_table.html), written in Python.

Why: the list, the searches and the home pages show up to 25 cases, each row a dozen template variables,
filters and a `{% url %}`; walked by the template engine that was about a fifth of those pages' server time.
The rows are exactly what the loop of the template wrote (same markup, escaping, dates and amounts), which
tests/web/test_case_rows.py checks against that loop."""

from django import template
from django.urls import reverse
from django.utils.safestring import mark_safe

from amiable.core.form_rendering import template_value as v
from amiable.core.templatetags.french import date_fr, euros

register = template.Library()


def _before(day, today) -> bool:
    """`{% if day < today %}`: false when the two do not compare (no `today` given)."""
    try:
        return day < today
    except TypeError:
        return False


def _row(case, *, selectable, show_creditor, show_work, today) -> str:
    pk = v(case.pk)
    reference = v(case.reference)
    parts = ["\n    <tr>\n      "]
    if selectable:
        parts.append(
            f'<td><input type="checkbox" name="cases" value="{pk}" id="choix-{pk}" form="attribution">'
            f'<label for="choix-{pk}" class="visually-hidden">Sélectionner le dossier {reference}</label></td>'
        )
    parts.append(
        f'\n      <th scope="row"><a href="{v(reverse("case_detail", args=[case.pk]))}">{reference}</a></th>'
        f"\n      <td>{v(case.debtor.display_name)}</td>\n      "
    )
    if show_creditor:
        parts.append(f"<td>{v(case.creditor.name)}</td>")
    parts.append(
        f'\n      <td><abbr title="{v(case.structure.name)}">{v(case.structure.code)}</abbr></td>'
        f"\n      <td>{v(date_fr(case.received_on))}</td>"
        f'\n      <td class="num">{v(euros(case.balance))}</td>'
        f'\n      <td><span class="status status-{v(case.status)}">{v(case.get_status_display())}</span></td>'
        "\n      "
    )
    if show_work:
        due = getattr(case, "next_action_on", None)
        if due:
            action = v(date_fr(due))
            if _before(due, today):
                action += " <strong>(en retard)</strong>"
            label = getattr(case, "next_action_label", "")
            if label:
                action += f"<br><small>{v(label)}</small>"
        else:
            action = "—"
        parts.append(f"\n      <td>{action}</td>\n      <td>{v(case.assigned_agent or 'Non attribué')}</td>\n      ")
    parts.append("\n    </tr>\n  ")
    return "".join(parts)


@register.simple_tag
def case_rows(cases, *, selectable=False, show_creditor=False, show_work=False, today=None, colspan=None):
    """The `<tr>` of each case, or the one row « Aucun dossier. » spanning the table."""
    rows = [
        _row(case, selectable=selectable, show_creditor=show_creditor, show_work=show_work, today=today)
        for case in cases
    ]
    if not rows:
        span = v(colspan) if colspan else "7" if show_creditor else "6"
        return mark_safe(f'\n    <tr><td colspan="{span}">Aucun dossier.</td></tr>\n  ')
    return mark_safe("".join(rows))  # every value is escaped by `v`
