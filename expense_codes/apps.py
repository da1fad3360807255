from django.apps import AppConfig


class ExpenseCodesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "expense_codes"
