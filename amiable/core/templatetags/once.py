"""`{% once_token %}`: the hidden one-time token of a form that creates something (`amiable.core.once`)."""

from django import template
from django.utils.html import format_html

from amiable.core.once import FIELD
from amiable.core.once import once_token as new_token

register = template.Library()


@register.simple_tag
def once_token() -> str:
    """A fresh token at each rendering: two renderings of the same form are two distinct submits."""
    return format_html('<input type="hidden" name="{}" value="{}">', FIELD, new_token())
