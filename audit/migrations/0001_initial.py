"""The audit trail moves here from the invoicing app, table and rows and all: nothing in the database moves.

The model keeps its table (``invoicing_auditevent``), whose index and SQLite guard triggers (invoicing's
0005_integrity_guards) stay as they are; this migration only tells Django the model is now ``audit.AuditEvent``.
Two things do change in the database:

* On PostgreSQL, django-pgtrigger names the append-only trigger after its model's app: the audit app's
  trigger is added here, and invoicing's 0010_auditevent_to_audit_app, which runs after this, drops the
  invoicing one. Between the two the table has both, which refuse the same.
* The model's content type row moves to the audit app, so the permissions given on audit events (and
  anything else pointing at that row) stay with it. A fresh database has no such row yet: nothing to move.
"""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models


def _content_type_move(apps, schema_editor, source, destination):
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_types = ContentType.objects.using(schema_editor.connection.alias)
    if content_types.filter(app_label=destination, model="auditevent").exists():
        return  # already there (made by post_migrate): the old row, if any, is left as it is
    content_types.filter(app_label=source, model="auditevent").update(app_label=destination)


def content_type_to_audit(apps, schema_editor):
    _content_type_move(apps, schema_editor, "invoicing", "audit")


def content_type_to_invoicing(apps, schema_editor):
    _content_type_move(apps, schema_editor, "audit", "invoicing")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('customers', '0004_company_settings'),
        ('invoicing', '0009_invoice_expense_code_mode_choices'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('actor_name', models.CharField(blank=True, help_text="The actor's username when it acted.", max_length=150)),
                        ('at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('target_id', models.PositiveBigIntegerField()),
                        ('action', models.CharField(max_length=40)),
                        ('from_status', models.CharField(blank=True, max_length=20)),
                        ('to_status', models.CharField(blank=True, max_length=20)),
                        ('reason', models.TextField(blank=True)),
                        ('data', models.JSONField(blank=True, default=dict)),
                        ('actor', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, to=settings.AUTH_USER_MODEL)),
                        ('partner', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='audit_events', to='customers.partner')),
                        ('target_type', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to='contenttypes.contenttype')),
                    ],
                    options={
                        'db_table': 'invoicing_auditevent',
                        'ordering': ['-at', '-id'],
                        'indexes': [models.Index(fields=['target_type', 'target_id', '-at'], name='invoicing_a_target__ba093e_idx')],
                    },
                ),
            ],
            database_operations=[],
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditevent',
            trigger=pgtrigger.compiler.Trigger(name='audit_append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'audit event % cannot be changed or deleted: the audit trail is append-only', OLD.id USING ERRCODE = 'restrict_violation';", hash='d966a8585dc062282a179cf5b455f0fab3d54f11', operation='UPDATE OR DELETE', pgid='pgtrigger_audit_append_only_f6eda', table='invoicing_auditevent', when='BEFORE')),
        ),
        migrations.RunPython(content_type_to_audit, content_type_to_invoicing),
    ]
