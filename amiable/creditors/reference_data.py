"""The reference data of the contract with the CPAM de Paris (CCTP art. 1) and the agency's identity.

The agency's own identity and bank details below are placeholders for the demo; an agency admin
replaces them in the administration before the first real document is issued."""

from decimal import Decimal

AGENCY = {
    "name": "Amiable Recouvrement SAS",
    "address_line1": "12, rue des Petites-Écuries",
    "address_line2": "",
    "postal_code": "75010",
    "city": "Paris",
    "siret": "55208131766522",
    "activity_statement": "Société exerçant une activité de recouvrement amiable de créances pour le compte d'autrui",
    "phone": "01 84 60 00 00",
    "email": "contact@amiable.example",
    "client_account_iban": "FR7630006000011234567890189",
    "client_account_bic": "AGRIFRPPXXX",
    "client_account_bank": "Banque de démonstration, compte affecté aux fonds de tiers",
    "cheque_payee": "Amiable Recouvrement — fonds de tiers",
    "invoice_iban": "FR7630004000031234567890143",
    "invoice_bic": "BNPAFRPPXXX",
    "legal_mentions": (
        "Amiable Recouvrement SAS au capital de 10 000 € — RCS Paris 552 081 317 — "
        "Garantie financière et assurance de responsabilité civile professionnelle (CPCE R124-2)."
    ),
    "vat_number": "FR40552081317",
}

CPAM = {
    "slug": "cpam-paris",
    "name": "Caisse Primaire d'Assurance Maladie de Paris",
    "name_with_article": "La Caisse Primaire d'Assurance Maladie de Paris",
    "address_line1": "21, rue Georges Auric",
    "address_line2": "",
    "postal_code": "75019",
    "city": "Paris",
    "siret": "78030346700010",
    "contact_email": "recouvrement@cpam-paris.example",
    "transmission_email": "lots-recouvrement@cpam-paris.example",
}

CPAM_STRUCTURES = [
    {
        "code": "CSR",
        "name": "Centre de Santé Réaumur",
        "address_line1": "106, rue Réaumur",
        "siret": "26750001500123",
        "postal_code": "75002",
        "city": "Paris",
    },
    {
        "code": "CDOP",
        "name": "Centre Dentaire d'Orthodontie de Paris",
        "address_line1": "96-98, rue du Faubourg du Temple",
        "siret": "26750002300135",
        "postal_code": "75011",
        "city": "Paris",
    },
    {
        "code": "CESA",
        "name": "Centre d'Examen de Santé Amelot",
        "address_line1": "96-98, rue Amelot",
        "siret": "26750003100146",
        "postal_code": "75011",
        "city": "Paris",
    },
]

DEFAULT_TERMS = {
    "commission_rate": Decimal("15.00"),
    "vat_rate": Decimal("20.00"),
    "direct_payments_bear_commission": False,
    "public_procurement": True,
    "max_plan_months": 6,
    "certificate_months": 12,
    "remittance_weekday": 0,
    "statement_hours": 48,
    "meeting_days": 3,
    "documents_return_months": 2,
    "contact_weekdays": "12345",
    "contact_hours": "10:00-13:00,14:00-20:00",
    "contact_on_public_holidays": False,
    "max_calls_per_30_days": 4,
    "max_emails_per_30_days": 4,
    "max_sms_per_30_days": 4,
    "max_letters_per_30_days": 2,
    "require_encryption": False,
    "require_signature": False,
}

# The CPAM de Paris' contract: the default terms, the clause that makes an acknowledgement its mandate, and an
# electronic, secured transmission with the data encrypted (CCTP 1.2, C5): its batches must be encrypted for the
# agency's key and signed with a key registered for the CPAM.
CPAM_TERMS = {
    **DEFAULT_TERMS,
    "mandate_reference": "l'article 1.2 du cahier des clauses techniques particulières (CCTP) du marché",
    "require_encryption": True,
    "require_signature": True,
}
