"""The change log and its triggers (issue 9): attgit reads what changed
instead of guessing from fingerprints.

The triggers' SQL lives in :mod:`django_adapter.changelog` (one place for
the migration, the check and the tests); installing is idempotent.
"""

from django.db import migrations, models


def install_triggers(apps, schema_editor):
    from django_adapter import changelog

    changelog.install(schema_editor.connection)


def drop_triggers(apps, schema_editor):
    from django_adapter import changelog

    changelog.uninstall(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('attendance', '0004_job_preview'),
    ]

    operations = [
        migrations.CreateModel(
            name='ChangeLog',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('company', models.TextField(null=True)),
                ('ep_no', models.TextField(null=True)),
                ('date', models.TextField(null=True)),
            ],
            options={
                'verbose_name': 'change log entry',
                'verbose_name_plural': 'change log',
            },
        ),
        migrations.RemoveField(
            model_name='syncstate',
            name='fingerprints',
        ),
        migrations.AddField(
            model_name='syncstate',
            name='watermark',
            field=models.BigIntegerField(default=0),
        ),
        migrations.RunPython(install_triggers, drop_triggers),
    ]
