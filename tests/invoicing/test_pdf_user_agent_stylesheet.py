"""The PDFs' reduced user-agent stylesheet (templates/invoicing/pdf/ua.css, issue 15) names every element the PDF
templates use: an element it does not know would lose its default display, margins or weight."""

import re
from pathlib import Path

from django.conf import settings

PDF_TEMPLATES = Path(settings.BASE_DIR) / "templates" / "invoicing" / "pdf"


def test_every_element_of_the_pdf_templates_has_its_user_agent_rules():
    used = set()
    for template in PDF_TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"<([a-z][a-z0-9]*)\b", template.read_text()))
    known = set(re.findall(r"\b([a-z][a-z0-9]*)\b", (PDF_TEMPLATES / "ua.css").read_text().split("*/", 1)[0]))
    assert used and used <= known, sorted(used - known)
