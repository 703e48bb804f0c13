"""Creditors' column mappings name the field a header maps to by its new English field name
(`amiable.intake.parsing.COLUMNS`): "nom" becomes "last_name", "solde" "principal_amount", and so on."""

from django.db import migrations

RENAMED = {
    "civilite": "civility",
    "nom": "last_name",
    "prenom": "first_name",
    "adresse1": "address_line1",
    "adresse2": "address_line2",
    "code_postal": "postal_code",
    "ville": "city",
    "pays": "country",
    "telephone": "phone",
    "montant_initial": "initial_amount",
    "solde": "principal_amount",
    "date_creance": "claim_date",
    "nature": "basis",
}


def _rename(apps, mapping: dict[str, str]) -> None:
    ColumnMapping = apps.get_model("intake", "ColumnMapping")
    for old, new in mapping.items():
        ColumnMapping.objects.filter(column=old).update(column=new)


def forwards(apps, schema_editor):
    _rename(apps, RENAMED)


def backwards(apps, schema_editor):
    _rename(apps, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0002_import_job"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
