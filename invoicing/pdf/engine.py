"""HTML to PDF with WeasyPrint, safe by construction and fast.

Safe:
- every text goes through Django's autoescape (the templates never use ``|safe``), so a description such as
  ``<img src="http://...">`` is printed, not parsed;
- the only URL fetcher serves the app's own static and media files (``AppFilesFetcher``): no http(s) to
  anywhere, no ``file://`` outside those folders, no ``data:``, so no redirects either; media files (the
  partner's logo) are read through the default storage, so they load the same from an S3-compatible store;
- ``<link rel=attachment>`` / ``<a rel=attachment>`` never embed anything: such elements are removed before
  layout and any attachment left on the rendered document is dropped before the PDF is written.

Fast: one ``FontConfiguration``, one parsed print stylesheet (with the bundled DejaVu fonts) and one user-agent
stylesheet per process, reused by every render; the user-agent stylesheet (``ua.css``) holds only the rules of the
elements our templates use, so the cascade matches a few dozen rules per element instead of WeasyPrint's ~250;
our templates are well-formed XHTML, read by expat rather than WeasyPrint's pure-Python HTML5 parser (``xml_tree``);
WeasyPrint subsets fonts with libharfbuzz-subset (``make system-deps``).
"""

from __future__ import annotations

import atexit
import logging
import mimetypes
import threading
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.storage import default_storage
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

# Documents are rendered with this base URL. The ".invalid" top-level domain never resolves (RFC 2606), and
# the fetcher below never opens a network connection anyway: it maps these URLs to static files on disk and to
# media files in the default storage.
APP_ORIGIN = "https://octoo-billing.invalid"
BASE_URL = f"{APP_ORIGIN}/"
FONT_FILES = {"normal": "fonts/DejaVuSans.ttf", "bold": "fonts/DejaVuSans-Bold.ttf"}


# --- The URL fetcher -----------------------------------------------------------------------------------


def _url_prefix(setting_url: str) -> str:
    path = urlsplit(setting_url or "").path
    return "/" + path.strip("/") + "/"


def _allowed_roots() -> list[Path]:
    roots = [Path(settings.MEDIA_ROOT)]
    roots += [Path(p if isinstance(p, str | Path) else p[1]) for p in getattr(settings, "STATICFILES_DIRS", [])]
    if getattr(settings, "STATIC_ROOT", None):
        roots.append(Path(settings.STATIC_ROOT))
    return [root.resolve() for root in roots]


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _stored_name(name: str) -> str:
    """A media URL's file name in the default storage, refused unless it is a plain relative name (no "..",
    no leading "/", no backslash): the storage would refuse most of those too, the check keeps it obvious."""
    parts = name.split("/")
    if not name or "\\" in name or "\x00" in name or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a media file name: {name[:200]}")
    return name


def _weasyprint():
    import weasyprint  # imported lazily: loading Pango costs ~0.5 s, which pages that never print should not pay

    progress = logging.getLogger("weasyprint.progress")
    if progress.level == logging.NOTSET:  # its "Step 1 ... Step 7" lines at INFO would flood the worker's log
        progress.setLevel(logging.WARNING)
    return weasyprint


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse  # lazily, as in _weasyprint()

    class AppFilesFetcher(URLFetcher):
        """Serves only the app's static files and media files; refuses every other URL.

        ``https://octoo-billing.invalid/static/...`` (what the templates' relative URLs resolve to) is read
        from disk, ``.../media/NAME`` from the default storage (``default_storage.open(NAME)``: the local
        folder or an S3-compatible store alike); ``file://`` URLs only inside the static or media folders.
        Nothing ever goes to the network but the storage's own, so there is nothing to redirect either.
        Refused URLs are logged and kept in ``refused`` (WeasyPrint then renders without the resource).
        """

        def __init__(self):
            super().__init__(timeout=1, allowed_protocols=("https", "file"), allow_redirects=False)
            self.refused: list[str] = []

        def local_path(self, url: str) -> Path | str:
            """A static file's path on disk, or a media file's name in the default storage (a ``str``)."""
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            path = unquote(parts.path)
            if scheme == "https" and f"{scheme}://{parts.netloc.lower()}" == APP_ORIGIN:
                static, media = _url_prefix(settings.STATIC_URL), _url_prefix(settings.MEDIA_URL)
                if path.startswith(static):
                    found = finders.find(path[len(static) :])
                    if found:
                        return self._checked(Path(found))
                    if getattr(settings, "STATIC_ROOT", None):
                        return self._checked(Path(settings.STATIC_ROOT) / path[len(static) :])
                elif path.startswith(media):
                    return _stored_name(path[len(media) :])
            elif scheme == "file" and parts.netloc in ("", "localhost"):
                return self._checked(Path(path))
            raise ValueError(f"only the app's own static and media files may be loaded, not {url[:200]}")

        def _checked(self, path: Path) -> Path:
            resolved = path.resolve()  # follows symlinks and "..": the real file must be inside a root
            if not _inside(resolved, _allowed_roots()) or not resolved.is_file():
                raise ValueError(f"not a static or media file: {path}")
            return resolved

        def fetch(self, url, headers=None):
            try:
                path = self.local_path(url)
            except Exception:  # noqa: BLE001 - refused, whatever the reason (bad scheme, traversal, missing)
                self.refused.append(url)
                logger.warning("PDF rendering refused to load %s", url[:200])
                raise
            if isinstance(path, str):  # a media file: through the storage API, never a path on this machine
                try:
                    with default_storage.open(path, "rb") as handle:
                        body = handle.read()
                except Exception:  # noqa: BLE001 - missing or unreadable in the store: refused like the rest
                    self.refused.append(url)
                    logger.warning("PDF rendering could not load %s from the media storage", url[:200])
                    raise
                mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
            else:
                body = path.read_bytes()
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, body=body, headers={"Content-Type": mime}, status=200)

        def open(self, url, data=None, timeout=None):  # never urllib: every URL goes through fetch()
            return self.fetch(getattr(url, "full_url", url))

    return AppFilesFetcher


def url_fetcher():
    """A new restricted fetcher (its ``refused`` list is per document)."""
    return _fetcher_class()()


def media_url(name: str) -> str:
    """The URL a template uses for a stored (media) file: the fetcher reads it from the default storage."""
    return f"{APP_ORIGIN}{_url_prefix(settings.MEDIA_URL)}{quote(name)}"


# --- One font configuration and one print stylesheet per process ----------------------------------------

_lock = threading.Lock()
_shared: dict = {}


def _print_assets():
    """(FontConfiguration, CSS) built once per process: @font-face fonts are loaded and registered once."""
    if "css" not in _shared:
        with _lock:
            if "css" not in _shared:
                weasyprint = _weasyprint()
                from weasyprint.text.ffi import harfbuzz_subset  # lazily, as in _weasyprint()
                from weasyprint.text.fonts import FontConfiguration

                if harfbuzz_subset is None:
                    logger.warning(
                        "libharfbuzz-subset0 is not installed: PDFs render about 4x slower (run `make system-deps`)."
                    )

                font_config = FontConfiguration()
                static = _url_prefix(settings.STATIC_URL)
                css_text = render_to_string(
                    "invoicing/pdf/print.css",
                    {"font_urls": {k: f"{APP_ORIGIN}{static}{v}" for k, v in FONT_FILES.items()}},
                )
                css = weasyprint.CSS(
                    string=css_text, base_url=BASE_URL, url_fetcher=url_fetcher(), font_config=font_config
                )
                ua = weasyprint.CSS(string=render_to_string("invoicing/pdf/ua.css"), base_url=BASE_URL)
                _shared["font_config"], _shared["ua"], _shared["css"] = font_config, ua, css
                atexit.register(_shared.clear)  # free the fonts before the interpreter tears modules down
    return _shared["font_config"], _shared["css"]


DOCTYPE = "<!doctype html>"


def xml_tree(html_text: str) -> ElementTree.Element | None:
    """The document's elements parsed as XML by expat (C), or None where WeasyPrint's HTML5 parser must read it.

    Our templates write well-formed XHTML (void elements closed, explicit ``<tbody>``): expat parses a 1-page
    invoice in 0.1 ms where the HTML5 parser (tinyhtml5, pure Python) takes 8 ms, a twentieth of the render, and
    the tree is the same, so is the PDF, byte for byte (tests/invoicing/test_pdf_parse.py). Anything else (a
    fragment, a named entity, a tag left open, a row outside a row group, a DTD, a ``<base>``) is refused here
    and parsed as HTML5. Expat sees only our markup: every text in it was escaped by the templates."""
    text = html_text.lstrip()
    if text[: len(DOCTYPE)].lower() == DOCTYPE:
        text = text[len(DOCTYPE) :]
    text = text.replace("<br>", "<br/>")  # the line breaks of |linebreaksbr
    if "<!" in text or "<?" in text or "<base" in text:  # no DTD, entity, CDATA, processing instruction or <base>
        return None
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None
    if root.tag != "html" or any(child.tag == "tr" for table in root.iter("table") for child in table):
        return None  # a fragment (HTML5 adds <html> and <body>), or rows the HTML5 parser would wrap in <tbody>
    return root


def _html_class():
    """WeasyPrint's HTML document with our user-agent stylesheet (``ua.css``) in place of its full one, read from
    our templates' XHTML by expat where it can (``xml_tree``)."""
    if "html_class" not in _shared:
        weasyprint = _weasyprint()
        _print_assets()
        import cssselect2  # WeasyPrint's own dependency, lazily as in _weasyprint()

        class AppHTML(weasyprint.HTML):
            def __init__(self, *, string: str, base_url: str, url_fetcher):
                root = xml_tree(string)
                if root is None:
                    super().__init__(string=string, base_url=base_url, url_fetcher=url_fetcher)
                    return
                # What weasyprint.HTML.__init__ sets after its parse (WeasyPrint 70), from our tree.
                self.base_url = base_url
                self.url_fetcher = url_fetcher
                self.media_type = "print"
                self.wrapper_element = cssselect2.ElementWrapper.from_html_root(root, content_language=None)
                self.etree_element = self.wrapper_element.etree_element

            def _ua_stylesheets(self, forms=False):
                return [_shared["ua"]]

        _shared["html_class"] = AppHTML
    return _shared["html_class"]


def _neutralise_attachments(html) -> None:
    """Remove every element that would make WeasyPrint embed a file (``rel=attachment``)."""
    root = html.etree_element
    parents = {child: parent for parent in root.iter() for child in parent}
    for element in list(root.iter()):
        rel = (element.get("rel") or "").lower().split() if isinstance(element.tag, str) else []
        if "attachment" in rel:
            parent = parents.get(element)
            if parent is not None:
                parent.remove(element)


def html_to_pdf(html_text: str, *, title: str = "", author: str = "") -> bytes:
    """Render HTML (from our templates) to PDF bytes with the restricted fetcher and the shared fonts."""
    font_config, css = _print_assets()
    html_class = _html_class()
    with _lock:  # Pango and the shared font configuration are not thread-safe; workers are processes anyway
        html = html_class(string=html_text, base_url=BASE_URL, url_fetcher=url_fetcher())
        _neutralise_attachments(html)
        document = html.render(font_config=font_config, stylesheets=[css])
        document.metadata.attachments = []
        for page in document.pages:
            page.links = [link for link in page.links if link[0] != "attachment"]
        if title:
            document.metadata.title = title
        if author:
            document.metadata.authors = [author]
        document.metadata.generator = "Octoo Billing"
        return document.write_pdf()
