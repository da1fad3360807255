"""The audit trail now belongs to the audit app (its 0001_initial, which runs first): invoicing forgets the model.

The table, its rows, its index and SQLite's guard triggers stay (the audit app uses the same table). On
PostgreSQL the append-only trigger named after invoicing's model is dropped, with its function: the audit app's
0001 has added its own, which refuses the same.
"""

import pgtrigger.migrations
from django.db import migrations

OLD_TRIGGER_FUNCTION = "pgtrigger_audit_append_only_d9830"


def old_trigger_function_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {OLD_TRIGGER_FUNCTION}()", params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0001_initial'),
        ('invoicing', '0009_invoice_expense_code_mode_choices'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='auditevent',
            name='audit_append_only',
        ),
        # Undone by the RemoveTrigger's own undo, which creates the function again with the trigger.
        migrations.RunPython(old_trigger_function_drop, migrations.RunPython.noop),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='AuditEvent'),
            ],
            database_operations=[],
        ),
    ]
