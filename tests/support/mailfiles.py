"""An e-mail backend that writes each message to its own file, so a test can count what another process sent."""

import os
import uuid

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend


class OneFilePerMessageBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        directory = settings.EMAIL_FILE_PATH
        for message in email_messages:
            path = os.path.join(directory, f"{uuid.uuid4().hex}.eml")
            with open(path, "wb") as handle:
                handle.write(message.message().as_bytes())
        return len(email_messages)
