"""The pain.001.001.09 credit transfer file: valid against its XSD, exact totals, SEPA characters only."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import xmlschema
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from amiable.core.sepa import Transfer, credit_transfer_xml, sepa_text, xsd_path

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}
DEBTOR = {"debtor_name": "Agence Amiable", "debtor_iban": "FR7630006000011234567890189", "debtor_bic": "AGRIFRPP"}


def transfer(ref="REV-2026-000001", amount="120.50", name="CPAM de Paris", info="Reversement REV-2026-000001"):
    return Transfer(
        end_to_end_id=ref,
        amount=Decimal(amount),
        creditor_name=name,
        creditor_iban="FR1420041010050500013M02606",
        creditor_bic="PSSTFRPPPAR",
        remittance_info=info,
    )


def build(transfers, **kwargs):
    return credit_transfer_xml(
        message_id="MSG-2026-W48",
        transfers=transfers,
        execution_date=date(2026, 12, 1),
        created_at=datetime(2026, 11, 30, 6, 0, tzinfo=UTC),
        **(DEBTOR | kwargs),
    )


def test_the_file_validates_against_the_bundled_xsd():
    xml = build([transfer(), transfer(ref="REV-2026-000002", amount="0.01")])
    xmlschema.XMLSchema(str(xsd_path())).validate(xml.decode())
    root = etree.fromstring(xml)
    assert root.tag == "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.09}Document"
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces=NS) == "MSG-2026-W48"
    created = root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CreDtTm", namespaces=NS)
    assert created == "2026-11-30T07:00:00+01:00"  # Paris time
    assert root.findtext(".//p:PmtInf/p:PmtInfId", namespaces=NS) == "MSG-2026-W48"
    assert root.findtext(".//p:ReqdExctnDt/p:Dt", namespaces=NS) == "2026-12-01"
    assert root.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == DEBTOR["debtor_iban"]
    assert [e.text for e in root.iterfind(".//p:EndToEndId", namespaces=NS)] == ["REV-2026-000001", "REV-2026-000002"]


def test_control_sum_and_count_are_exact_to_the_cent():
    amounts = ["0.10", "0.20", "1234567.89", "99.99", "0.01", "10"]
    xml = build([transfer(ref=f"REV-{i}", amount=a) for i, a in enumerate(amounts)])
    root = etree.fromstring(xml)
    expected = sum((Decimal(a) for a in amounts), Decimal("0"))
    assert root.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=NS) == "6"
    assert Decimal(root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS)) == expected == Decimal("1234678.19")
    assert Decimal(root.findtext(".//p:PmtInf/p:CtrlSum", namespaces=NS)) == expected
    instructed = [e.text for e in root.iterfind(".//p:InstdAmt", namespaces=NS)]
    assert instructed == ["0.10", "0.20", "1234567.89", "99.99", "0.01", "10.00"]
    assert {e.get("Ccy") for e in root.iterfind(".//p:InstdAmt", namespaces=NS)} == {"EUR"}


def test_names_and_remittance_information_are_transliterated():
    xml = build(
        [transfer(name="Hôpital Saint-Éloi & Cœur — Créteil", info="Réversement n° 12 : 1er trimestre « été »")],
        debtor_name="Agence Amiable Île-de-France",
    )
    root = etree.fromstring(xml)
    assert root.findtext(".//p:Cdtr/p:Nm", namespaces=NS) == "Hopital Saint-Eloi Coeur -- Creteil"
    assert root.findtext(".//p:RmtInf/p:Ustrd", namespaces=NS) == "Reversement ndeg 12 : 1er trimestre ete"
    assert root.findtext(".//p:Dbtr/p:Nm", namespaces=NS) == "Agence Amiable Ile-de-France"
    assert root.findtext(".//p:InitgPty/p:Nm", namespaces=NS) == "Agence Amiable Ile-de-France"


def test_sepa_text_keeps_only_the_latin_set_and_the_limit():
    assert sepa_text("Zoë_Müller@exemple.fr", 70) == "Zoe Muller exemple.fr"
    assert sepa_text("x" * 200, 140) == "x" * 140
    assert sepa_text("  Ça   va  ", 70) == "Ca va"


@pytest.mark.parametrize("amount", ["0", "-5.00", "1.005"])
def test_a_non_positive_or_sub_cent_amount_is_refused(amount):
    with pytest.raises(ValueError):
        build([transfer(amount=amount)])


def test_a_float_amount_is_refused():
    bad = Transfer("REV-1", 1.5, "CPAM", "FR1420041010050500013M02606", "PSSTFRPPPAR", "x")
    with pytest.raises(TypeError):
        build([bad])


@pytest.mark.parametrize("ref", ["", "REV 1", "/REV-1", "REV//1", "RÉV-1", "R" * 36])
def test_a_reference_outside_the_sepa_rules_is_refused(ref):
    with pytest.raises(ValueError):
        build([transfer(ref=ref)])


def test_a_duplicate_end_to_end_reference_is_refused():
    with pytest.raises(ValueError, match="double"):
        build([transfer(), transfer()])


def test_no_transfer_no_file():
    with pytest.raises(ValueError):
        build([])


def test_a_bic_is_optional():
    xml = build([transfer()], debtor_bic="")
    root = etree.fromstring(xml)
    assert root.find(".//p:DbtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) is None


def test_the_creation_time_defaults_to_now_with_its_timezone():
    xml = credit_transfer_xml(message_id="MSG-1", transfers=[transfer()], execution_date=date(2026, 12, 1), **DEBTOR)
    created = etree.fromstring(xml).findtext(".//p:GrpHdr/p:CreDtTm", namespaces=NS)
    assert datetime.fromisoformat(created).tzinfo is not None


@pytest.mark.parametrize(("name", "info"), [("", "Reversement"), ("CPAM", "«»"), ("@_@", "Reversement")])
def test_an_empty_name_or_remittance_text_is_refused(name, info):
    with pytest.raises(ValueError, match="obligatoires"):
        build([transfer(name=name, info=info)])


@pytest.mark.parametrize("iban", ["not an iban", "FR7630006000011234567890188"])
def test_an_invalid_iban_is_refused(iban):
    with pytest.raises(ValueError, match="IBAN"):
        build([transfer()], debtor_iban=iban)


def test_an_invalid_bic_is_refused():
    with pytest.raises(ValueError, match="BIC"):
        build([transfer()], debtor_bic="AGRI")


def test_ibans_and_bics_are_written_compact():
    xml = build([transfer()], debtor_iban="FR76 3000 6000 0112 3456 7890 189", debtor_bic="agri frpp")
    root = etree.fromstring(xml)
    assert root.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == "FR7630006000011234567890189"
    assert root.findtext(".//p:DbtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) == "AGRIFRPP"


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=12))
def test_the_control_sum_is_the_exact_sum_of_any_amounts(cents):
    amounts = [Decimal(c).scaleb(-2) for c in cents]
    xml = build([transfer(ref=f"REV-{i}", amount=a) for i, a in enumerate(amounts)])
    root = etree.fromstring(xml)
    assert Decimal(root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS)) == sum(amounts)
    assert root.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=NS) == str(len(cents))


def test_the_schema_is_compiled_once_for_many_files(monkeypatch):
    """Compiling the XSD costs seconds: a run of many structures compiles it once, and still validates each."""
    from amiable.core import sepa

    sepa._schema.cache_clear()
    compiled = []
    real = xmlschema.XMLSchema
    monkeypatch.setattr(xmlschema, "XMLSchema", lambda *a, **k: compiled.append(a) or real(*a, **k))
    build([transfer()])
    build([transfer(ref="REV-2026-000002")])
    assert len(compiled) == 1
    validated = []
    monkeypatch.setattr(sepa._schema(), "validate", lambda xml: validated.append(xml))
    build([transfer(ref="REV-2026-000003")])
    assert len(validated) == 1 and "REV-2026-000003" in validated[0]
    sepa._schema.cache_clear()


def test_a_file_outside_the_schema_is_refused():
    from amiable.core import sepa

    with pytest.raises(sepa.ValidationError, match="validation errors"):
        sepa._validated(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><Nothing/></Document>')
