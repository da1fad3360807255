"""Settings for a worker process started by a test: the test's database (DATABASE_URL), and e-mails and media
in the folders the test gives (OUTBOX_TEST_MAIL_DIR, OUTBOX_TEST_MEDIA_ROOT)."""

import os

from octoo_billing.settings_test import *  # noqa: F403

EMAIL_BACKEND = "tests.support.mailfiles.OneFilePerMessageBackend"
EMAIL_FILE_PATH = os.environ["OUTBOX_TEST_MAIL_DIR"]
MEDIA_ROOT = os.environ["OUTBOX_TEST_MEDIA_ROOT"]
