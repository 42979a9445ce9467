from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("gate_shop", "0001_initial")]

    operations = [migrations.RunSQL(migrations.RunSQL.noop, migrations.RunSQL.noop)]
