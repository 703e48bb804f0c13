"""Lockout key for django-axes: logins are case-insensitive e-mails, so failures must add up whatever
case the address is typed in."""


def lockout_username(request, credentials: dict | None) -> str:
    if credentials:
        username = credentials.get("username") or credentials.get("email") or ""
    else:
        username = request.POST.get("username", "") if request is not None else ""
    return str(username).strip().lower()
