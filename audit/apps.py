from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from octoo_billing.triggers import install_fast_ignore_check

        # After every migrate (which re-installs pgtrigger's slower version with each trigger it adds).
        post_migrate.connect(install_fast_ignore_check, sender=self, dispatch_uid="octoo_fast_ignore_check")
