import io
from pypdf import PdfReader
from amiable.actions.defaults import letter_templates_ensure
from amiable.actions.letters import letter_issue
from tests.factories import make_case

def test_explore(reference, users):
    letter_templates_ensure(creditor=reference.cpam)
    case = make_case(structure=reference.cdop, basis="Frais non remboursés", interest_amount="3.20", other_amount="1000.00")
    letter = letter_issue(case=case, kind="first", actor=users.agent)
    data = letter.pdf.read()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    print(repr(text))
    print(letter.address_lines, len(PdfReader(io.BytesIO(data)).pages))
    r = letter_issue(case=case, kind="reminder", actor=users.agent)
    print(repr("\n".join(p.extract_text() for p in PdfReader(r.pdf.path).pages)))
    assert 0
