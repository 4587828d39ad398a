"""A Remote's URL is validated against the transports attgit allows
(issue 18.6): the admin refuses ``fd::``, ``ext::`` and other transports
with a form error.  Validators live in Python only: no SQL runs here.
"""

from django.db import migrations, models

import django_adapter.models


class Migration(migrations.Migration):

    dependencies = [
        ('attendance', '0012_times_before_midnight'),
    ]

    operations = [
        migrations.AlterField(
            model_name='remote',
            name='url',
            field=models.CharField(max_length=1000, validators=[django_adapter.models.remote_url_validator]),
        ),
    ]
