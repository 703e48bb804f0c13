"""Request logs without what a search typed: searches are GET (bookmarks, pagination, the back button), so
their words — often a debtor's name — are in the URL; the request log keeps the URL with them masked."""

import logging
import re

MASK = "[masqué]"
# `q` is the search box; `next` carries the address asked before a login, a search included.
_PARAMETER = re.compile(r"([?&](?:q|next)=)[^&\s\"]*")


def redact(text: str) -> str:
    return _PARAMETER.sub(lambda m: m.group(1) + MASK, text)


class RedactSearchFilter(logging.Filter):
    """Masks the search words in a logged request line (runserver's `django.server`, `django.request`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True
