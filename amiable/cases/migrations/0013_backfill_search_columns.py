"""The folded search columns of the debtors and contact points recorded before they existed, computed by the
same functions as the models' `save()` (`cases.search`), a batch at a time so that memory stays flat."""

from django.db import migrations

from amiable.cases.search import contact_search_value, debtor_search_name

BATCH = 2000


def _batches(queryset):
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).order_by("pk")[:BATCH])
        if not rows:
            return
        yield rows
        last = rows[-1].pk


def backfill(apps, schema_editor):
    Debtor = apps.get_model("cases", "Debtor")
    ContactPoint = apps.get_model("cases", "ContactPoint")
    for rows in _batches(Debtor.objects.only("pk", "first_name", "last_name")):
        for debtor in rows:
            debtor.search_name = debtor_search_name(first_name=debtor.first_name, last_name=debtor.last_name)
        Debtor.objects.bulk_update(rows, ["search_name"])
    for rows in _batches(ContactPoint.objects.only("pk", "kind", "value", "raw_value")):
        for point in rows:
            point.search_value = contact_search_value(kind=point.kind, value=point.value, raw_value=point.raw_value)
        ContactPoint.objects.bulk_update(rows, ["search_value"])


class Migration(migrations.Migration):
    dependencies = [("cases", "0012_search_columns")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
