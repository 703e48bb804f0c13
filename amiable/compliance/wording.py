"""What every document to a debtor says of the claim and of the debtor, in one place (CPCE R124-4, L9).

R124-4 asks for the basis of the claim, not the care: the creditor's own label of a claim (« Dépassement
orthodontie », « Reste à charge soins dentaires ») is health data and never reaches the debtor's letter,
e-mail, SMS, call script, receipt or plan. The creditor's neutral wording does."""

from amiable.core.dates import format_date

# Salutation by the debtor's civility (cases.Civility values); unknown: both.
SALUTATIONS = {"M": "Monsieur", "MME": "Madame"}


def claim_basis(case) -> str:
    """The basis of the claim as debtors read it: the creditor's neutral wording, `{date}` replaced by the
    date of the care (JJ/MM/AAAA), or dropped with its « du » when the date is not known."""
    wording = " ".join(case.creditor.basis_wording.split())
    if "{date}" in wording:
        if case.claim_date:
            wording = wording.replace("{date}", format_date(case.claim_date))
        else:
            wording = wording.replace(" du {date}", "").replace(" le {date}", "").replace("{date}", "")
    return wording.strip()


def salutation(debtor) -> str:
    """« Madame », « Monsieur », or « Madame, Monsieur » when the civility is not known."""
    return SALUTATIONS.get(debtor.civility, "Madame, Monsieur")
