"""Office: importing services from a scheduling system's CSV or XLSX export (invoicing.imports).

Upload (the file is read, refused at once when its type, size or columns are wrong, then kept under a signed
token) → preview (every row checked, nothing saved) → import (checked again, all or nothing). Any staff member
may import: billing clerks too.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from customers.access import staff_required
from invoicing.imports.checking import RowStatus, services_import_check
from invoicing.imports.commit import services_import_commit
from invoicing.imports.files import (
    IMPORT_MAX_BYTES,
    IMPORT_MAX_ROWS,
    Column,
    ImportRefused,
    import_table_read,
    import_upload_delete,
    import_upload_load,
    import_upload_store,
)


class ServicesImportForm(forms.Form):
    file = forms.FileField(
        label="Export file",
        help_text=f"CSV (UTF-8) or Excel .xlsx, up to {filesizeformat(IMPORT_MAX_BYTES)} and {IMPORT_MAX_ROWS:,} rows.",
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        ),
        error_messages={"required": "Choose a file to upload.", "empty": "The file is empty."},
    )

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {filesizeformat(IMPORT_MAX_BYTES)}: split it into several files."
            )
        return uploaded


def _preview_url(token: str, **params) -> str:
    return f"{reverse('office:services_import_preview')}?{urlencode({'upload': token, **params})}"


def _upload_page(request, form, status=200, refusal: str = ""):
    context = {
        "form": form,
        "refusal": refusal,
        "columns": list(Column),
        "max_rows": IMPORT_MAX_ROWS,
        "time_zone": timezone.get_current_timezone_name(),
    }
    return render(request, "office/services/import.html", context, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def services_import(request):
    """The upload form; a posted file is read (refused here when the file as a whole is wrong) and kept."""
    if request.method != "POST":
        return _upload_page(request, ServicesImportForm())
    form = ServicesImportForm(request.POST, request.FILES)
    if form.is_valid():
        uploaded = form.cleaned_data["file"]
        data = uploaded.read()
        try:
            import_table_read(uploaded.name, data)
            upload = import_upload_store(partner=request.partner, name=uploaded.name, data=data)
        except ImportRefused as error:
            form.add_error(error.field, error.message)
        else:
            return redirect(_preview_url(upload.token))
    return _upload_page(request, form, status=400)


@staff_required
@require_http_methods(["GET"])
def services_import_preview(request):
    """Every row of the stored upload, checked: its status and problems, the totals, and the import button."""
    try:
        upload = import_upload_load(partner=request.partner, token=request.GET.get("upload", ""))
        check = services_import_check(partner=request.partner, name=upload.name, data=upload.data)
    except ImportRefused as error:
        return _upload_page(request, ServicesImportForm(), status=400, refusal=error.message)
    only_problems = request.GET.get("show") == "problems"
    rows = [row for row in check.rows if row.status == RowStatus.ERROR] if only_problems else check.rows
    context = {
        "check": check,
        "rows": rows,
        "upload": upload,
        "only_problems": only_problems,
        "all_url": _preview_url(upload.token),
        "problems_url": _preview_url(upload.token, show="problems"),
    }
    return render(request, "office/services/import_preview.html", context)


@staff_required
@require_POST
def services_import_commit_view(request):
    """Import the stored upload: checked again, saved all or nothing; the stored file is removed once imported."""
    token = request.POST.get("upload", "")
    try:
        upload = import_upload_load(partner=request.partner, token=token)
    except ImportRefused as error:
        messages.error(request, error.message)
        return redirect("office:services_import")
    try:
        result = services_import_commit(partner=request.partner, name=upload.name, data=upload.data, user=request.user)
    except ImportRefused as error:
        messages.error(request, error.message)
        return redirect(_preview_url(token))
    import_upload_delete(upload)
    skipped = (
        f" {result.skipped:,} row{'s were' if result.skipped != 1 else ' was'} already imported."
        if result.skipped
        else ""
    )
    if not result.services:
        messages.info(request, f"Nothing new to import: every row of “{upload.name}” was already imported.")
        return redirect("office:service_list")
    messages.success(
        request,
        f"Imported {result.services:,} service{'s' if result.services != 1 else ''} in {result.requests:,} "
        f"request{'s' if result.requests != 1 else ''} from “{upload.name}”.{skipped}",
    )
    return redirect(f"{reverse('office:request_list')}?source=import")
