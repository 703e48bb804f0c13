"""The rules French law sets on amicable-recovery letters, as code (CPCE R124-4, L111-8; Code pénal
433-13; C. consom. L121-2): what a first letter must say, and what no letter may say."""

import functools
import re
import unicodedata

# CPCE L111-8, 2nd and 3rd paragraphs, verbatim (R124-4 5°).
L111_8 = (
    "Les frais de recouvrement entrepris sans titre exécutoire restent à la charge du créancier, sauf s'ils "
    "concernent un acte dont l'accomplissement est prescrit par la loi au créancier. Toute stipulation contraire "
    "est réputée non écrite, sauf disposition législative contraire.",
    "Cependant, le créancier qui justifie du caractère nécessaire des démarches entreprises pour recouvrer sa "
    "créance peut demander au juge de l'exécution de laisser tout ou partie des frais ainsi exposés à la charge "
    "du débiteur de mauvaise foi.",
)
# Words that imitate a court, bailiff or administrative act, or confuse amicable and forced recovery (L7).
FORBIDDEN_WORDS = (
    "huissier",
    "commissaire de justice",
    "saisie",
    "sommation",
    "mise en demeure avant poursuites",
    "procédure judiciaire",
    "poursuites judiciaires",
    "tribunal",
    "tribunaux",
    "exécution forcée",
)
# A fee charged to the debtor (L3): never, in any wording.
FEE_WORDS = (
    "frais",
    "pénalité",
    "majoration",
    "indemnité forfaitaire",
    "clause pénale",
)


def fold(text: str) -> str:
    """Lower case, no accents, single spaces and plain apostrophes: wording compared whatever its typography.
    Invisible characters (soft hyphen, zero-width space…) are dropped, so they cannot hide a word."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'").replace("\u00a0", " ").replace("\u202f", " "))
    # Each distinct character is looked at once (a message or a letter is thousands of characters, of a few
    # dozen kinds): the accents and invisible ones are then dropped in one pass.
    for c in {c for c in set(text) if unicodedata.combining(c) or unicodedata.category(c) == "Cf"}:
        text = text.replace(c, "")
    return " ".join(text.lower().split())  # str.split's whitespace is the `\s` of `re`


@functools.cache
def _word_pattern(word: str) -> str:
    """A word or phrase at the start of a word, each of its words also in the plural (« commissaires de
    justice », « huissiers »)."""
    return r"\b" + r"[sx]? ".join(re.escape(part) for part in fold(word).split(" "))


@functools.lru_cache(maxsize=1024)
def _fold_cached(text: str) -> str:
    """`fold` of the texts checks compare with again and again (the L111-8 paragraphs, a creditor's name)."""
    return fold(text)


@functools.cache
def _any_word_pattern() -> re.Pattern:
    """One pattern for all the L7 and fee words: finds a text in which none of them is, in one pass."""
    return re.compile("|".join(_word_pattern(word) for word in (*FORBIDDEN_WORDS, *FEE_WORDS)))


def forbidden_wording(text: str, *, quoted: tuple[str, ...] = ()) -> list[str]:
    """The L7 words and the fee words found in a text. Not counted: the L111-8 paragraphs, which speak of
    fees to say the debtor never bears them, and `quoted` data such as the creditor's own label of the
    claim (« Frais non remboursés » names what is owed, it is not a fee added to it)."""
    folded = fold(text)
    for paragraph in (*L111_8, *quoted):
        if paragraph:
            folded = folded.replace(_fold_cached(paragraph), " ")
    if not _any_word_pattern().search(folded):
        return []  # the usual case, in one pass over the text instead of one per word
    found = []
    for word in FORBIDDEN_WORDS:
        if re.search(_word_pattern(word), folded):
            found.append(f"« {word} » (imitation d'un acte judiciaire, interdite)")
    for word in FEE_WORDS:
        if re.search(_word_pattern(word), folded):
            found.append(f"« {word} » (aucun frais ne peut être réclamé au débiteur)")
    return found


def missing_first_letter_mentions(text: str, *, mentions: dict[str, list[str]]) -> list[str]:
    """The R124-4 mentions absent from a first letter's text. `mentions` maps each mention's French name to
    the pieces of text that prove it is there (e.g. the agency's name and address)."""
    folded = fold(text)
    missing = []
    for name, pieces in mentions.items():
        if not all(fold(piece) in folded for piece in pieces if piece):
            missing.append(name)
    return missing


# Words that reveal the kind of care (CSP L1110-4, L9), folded: a debtor's document may say that a part of
# some care remains to be paid (« soins »), never which care.
SPECIALTY_WORDS = (
    "dentaire",
    "dentiste",
    "orthodont",
    "implant",
    "prothese",
    "ophtalm",
    "optique",
    "kine",
    "radiolog",
    "imagerie",
    "gyneco",
    "obstetri",
    "pediatr",
    "psychiatr",
    "psycholog",
    "cardiolog",
    "dermatolog",
    "oncolog",
    "depistage",
    "examen de sante",
    "analyses medicales",
    "laboratoire",
)


def medical_secrecy_problems(
    text: str, *, structure_name: str, creditor_name: str = "", specialty: bool, quoted: tuple[str, ...] = ()
) -> list[str]:
    """What in a text reveals where or for what a debtor was cared for: the structure's name (the creditor's
    own name is allowed) and, with `specialty`, the words of a kind of care. Every debtor document asks it
    with `specialty=True`; only the templates, which name no case, are checked on the structure alone."""
    folded = fold(text)
    # The creditor's own name, and data printed as is (the debtor's name and address), are not wording.
    for allowed in (creditor_name, *quoted):
        if allowed and allowed.strip():
            folded = folded.replace(_fold_cached(allowed), " ")
    problems = []
    if structure_name and _fold_cached(structure_name) in folded:
        problems.append(
            f"il nomme la structure « {structure_name} » (secret médical : seul le créancier peut être nommé)"
        )
    if specialty:
        problems += [
            f"« {word} » (le soin ne doit pas apparaître, secret médical)" for word in SPECIALTY_WORDS if word in folded
        ]
    return problems


def debtor_text_problems(text: str, *, case, quoted: tuple[str, ...] = ()) -> list[str]:
    """Everything a text to the debtor of `case` must not say (L3, L7, L9): no fee, no judicial wording, neither
    the structure nor the kind of care. The one check of letters, messages, receipts and plans; `quoted` is data
    printed as is (the debtor's name, an address)."""
    return forbidden_wording(text, quoted=quoted) + medical_secrecy_problems(
        text, structure_name=case.structure.name, creditor_name=case.creditor.name, specialty=True, quoted=quoted
    )
