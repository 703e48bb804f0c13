"""The single rule of tenant isolation (S2), applied by every `visible_to(user)` queryset method."""

from django.db.models import QuerySet


def scope_to_user(qs: QuerySet, user, *, creditor_field: str, structure_field: str | None = None) -> QuerySet:
    """Agency staff see every row; creditor staff the rows of their creditor — and, when limited to some
    structures, only those structures' rows (`structure_field`); anybody else, nothing. Without a
    `structure_field`, a row belongs to the whole creditor and a structure limit does not narrow it."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return qs.none()
    if user.is_agency:
        return qs
    if not user.is_creditor_user:
        return qs.none()
    qs = qs.filter(**{creditor_field: user.creditor_id})
    if structure_field is not None and user.allowed_structure_ids is not None:
        qs = qs.filter(**{f"{structure_field}__in": user.allowed_structure_ids})
    return qs
