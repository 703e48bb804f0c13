"""Searches stay GET (bookmarks, pagination), so the words searched — often a debtor's name — are in the URL:
the request log masks them."""

import io
import logging

from amiable.core.logging import RedactSearchFilter, redact


def test_the_request_log_masks_the_search_words(client, users):
    logger = logging.getLogger("django.server")
    # The console handler of the settings (pytest may add its own capture handlers beside it).
    (handler,) = [h for h in logger.handlers if any(isinstance(f, RedactSearchFilter) for f in h.filters)]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        # What runserver's request handler logs for each request.
        logger.info('"%s" %s %s', "GET /dossiers/?q=Dupont+Marie&page=2 HTTP/1.1", "200", "5120")
        logger.info('"%s" %s %s', "GET /connexion/?next=/dossiers/%3Fq%3DDupont HTTP/1.1", "200", "100")
        logging.getLogger("django.request").warning("Lent : %s", "/dossiers/?q=Dupont")
    finally:
        handler.setStream(previous)
    logged = stream.getvalue()
    assert "Dupont" not in logged
    assert "/dossiers/?q=[masqué]&page=2" in logged
    assert "/connexion/?next=[masqué]" in logged


def test_redact_leaves_other_parameters():
    assert redact("GET /dossiers/?status=open&q=Martin&page=3") == "GET /dossiers/?status=open&q=[masqué]&page=3"
    assert redact("GET /dossiers/?faq=1") == "GET /dossiers/?faq=1"
