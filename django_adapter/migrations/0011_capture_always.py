"""The change-log triggers fire whatever a session is told (issue 18).

PostgreSQL: ENABLE ALWAYS, so ``session_replication_role = replica``
(``pg_restore --disable-triggers``, logical replication) cannot skip them,
and a guard on the log itself.  SQLite: BEFORE triggers that log the row a
REPLACE removes.  The sync state keeps the triggers' identity, so triggers
dropped and created again are noticed.  The triggers are created again
here (logging "compare everything" once).  A later migration that
rebuilds the attendance, company or sync state table on SQLite drops them
first and puts them back last (see 0006).
"""

from django.db import migrations, models


def drop_triggers(apps, schema_editor):
    from django_adapter import changelog

    changelog.uninstall(schema_editor.connection)


def reinstall(apps, schema_editor):
    from django_adapter import changelog

    changelog.uninstall(schema_editor.connection)
    changelog.install(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('attendance', '0010_admin_order_index'),
    ]

    operations = [
        # SQLite rebuilds the sync state table to add the column, and refuses
        # while a trigger (the log's guard) names it
        migrations.RunPython(drop_triggers, reinstall),
        migrations.AddField(
            model_name='syncstate',
            name='capture',
            field=models.TextField(blank=True, default=''),
        ),
        migrations.RunPython(reinstall, drop_triggers),
        migrations.AlterField(
            model_name='backuplog',
            name='operation',
            field=models.CharField(choices=[('backup_full', 'Full Backup'), ('backup_incremental', 'Incremental Backup'), ('restore', 'Restore'), ('commit', 'Commit'), ('import', 'Import'), ('checkout', 'Checkout'), ('pull', 'Pull'), ('push', 'Push'), ('fetch', 'Fetch'), ('merge', 'Merge'), ('resolve', 'Resolve'), ('sync', 'Sync'), ('verify', 'Verify'), ('download', 'Download'), ('init', 'Init'), ('status', 'Status'), ('log', 'Log'), ('show', 'Show'), ('diff', 'Diff'), ('remote', 'Remote'), ('conflicts', 'Conflicts'), ('scheduled', 'Scheduled snapshot'), ('verify_database', 'Database check')], max_length=20),
        ),
    ]
