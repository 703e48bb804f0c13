"""Synthetic claim batches for the demo and the benchmark."""

import random

STREETS = ["rue de la Roquette", "boulevard Voltaire", "rue Oberkampf", "avenue Parmentier", "rue de Belleville"]
NAMES = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"]
FIRST = ["Marie", "Jean", "Aïcha", "Lucas", "Chloé", "Mamadou", "Inès", "Hugo", "Éric", "Léa"]
FEMALE_FIRST = frozenset({"Marie", "Aïcha", "Chloé", "Inès", "Léa"})


def civility_of(first_name: str) -> str:
    """The civility that goes with a first name of the lists above (no « Mme LEROY Éric »)."""
    return "Mme" if first_name in FEMALE_FIRST else "M."


def generate_batch(rows: int, *, seed: int = 7, prefix: str = "BENCH") -> bytes:
    """A CPAM-format CSV of `rows` synthetic claims (no real person), 2 % of them with an unreadable balance."""
    rng = random.Random(seed)
    lines = [
        "reference_dossier;structure;civilite;nom;prenom;adresse_ligne1;adresse_ligne2;code_postal;ville;pays;"
        "telephone;email;montant_initial;solde;date_creance;nature"
    ]
    for n in range(1, rows + 1):
        balance = rng.randint(500, 90000)
        initial = balance + rng.choice([0, 0, 1500])
        phone = f"06 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
        solde = f"{balance // 100},{balance % 100:02d}" if n % 50 else "abc"  # 2 % of rows rejected
        first = rng.choice(FIRST)
        last = rng.choice(NAMES)
        structure = rng.choice(["CSR", "CDOP", "CESA"])
        rng.choice(["M.", "Mme"])  # the draw that once picked the civility, kept so that every other value stays
        lines.append(
            f"{prefix}-{n:07d};{structure};{civility_of(first)};{last};{first};"
            f"{rng.randint(1, 200)} {rng.choice(STREETS)};;750{rng.randint(1, 20):02d};Paris;;{phone};"
            f"{first.lower()}.{last.lower()}{n}@exemple.fr;{initial // 100},{initial % 100:02d};{solde};"
            f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2025;Reste à charge"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def demo_batch() -> bytes:
    """The clear content of the demo's batch, which the demo receives encrypted and signed
    (`amiable/ops/demo_data/lot-demo-cpam.csv.gpg`, made by `scripts/make-demo-batch.sh`)."""
    return generate_batch(40, seed=2026, prefix="DEMO-LOT")
