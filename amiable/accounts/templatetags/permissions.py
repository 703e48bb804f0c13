"""`{% if user|may:"decide" %}`: templates ask the predicates of `accounts.permissions`, the same the
services enforce, instead of repeating roles."""

from django import template

from amiable.accounts.permissions import PREDICATES

register = template.Library()


@register.filter(name="may")
def may(user, rule: str) -> bool:
    """Whether the user may do what the rule names (« work_cases », « reassign », « ask_agency », « decide »,
    « upload_batch »). An unknown name is a template error, not a silent refusal."""
    try:
        predicate = PREDICATES[rule]
    except KeyError as exc:
        raise template.TemplateSyntaxError(f"Règle de permission inconnue : « {rule} ».") from exc
    return predicate(user)
