"""An explicit « all structures » flag: until now an empty structure list meant « all », so that deleting the
structures of a limited person widened their access. Everyone without a limit today keeps « all »."""

from django.db import migrations, models


def keep_todays_limits(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    User.objects.filter(structures__isnull=False).distinct().update(all_structures=False)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_two_factor_enabled"),
        ("creditors", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="all_structures",
            field=models.BooleanField(
                default=True,
                help_text="Coché : toutes les structures du créancier ; décoché : seulement les structures autorisées.",
                verbose_name="toutes les structures",
            ),
        ),
        migrations.AlterField(
            model_name="user",
            name="structures",
            field=models.ManyToManyField(
                blank=True,
                help_text="Les seules structures que voit la personne quand « toutes les structures » n'est pas "
                "coché ; vide : aucune.",
                related_name="limited_users",
                to="creditors.structure",
                verbose_name="structures autorisées",
            ),
        ),
        migrations.RunPython(keep_todays_limits, migrations.RunPython.noop),
    ]
