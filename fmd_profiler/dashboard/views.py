"""The live dashboard: the report's pages behind a login, as the Flask blueprint
``fmd_profiler_dashboard`` at ``/<CUSTOM_LINK>``.

Every route but the login form answers a redirect to it (GET) or 401 (anything else) without a
signed-in session; every POST needs the session's CSRF token; admin actions need the admin role.
Pages are the static report's pages at the same relative paths, built from a read session and
cached (:mod:`fmd_profiler.dashboard.cache`); pandas and plotnine are imported on the first page
view, never on the app's request path.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, abort, current_app, g, redirect, request

from fmd_profiler.config import Config
from fmd_profiler.dashboard import admin
from fmd_profiler.dashboard.auth import (
    ADMIN,
    Credentials,
    Session,
    SessionCodec,
    SessionGenerations,
    csrf_ok,
    login_throttle,
    new_session,
)
from fmd_profiler.dashboard.cache import BuiltPage, PageCache
from fmd_profiler.dashboard.source import dashboard_source
from fmd_profiler.errors import ProfilerError, StoreError
from fmd_profiler.fmd_config import our_level_as_fmd
from fmd_profiler.recording.levels import DASHBOARD_BLUEPRINT, may_profile
from fmd_profiler.report.model import CHART_SUFFIXES
from fmd_profiler.store import StoreLocation

log = logging.getLogger("fmd_profiler")

COOKIE = "fmd_profiler_session"
SESSION_MAX_AGE_S = 12 * 3600
PUBLIC_ENDPOINTS = {f"{DASHBOARD_BLUEPRINT}.login"}
#: Pages whose charts are all SVG (report.svg_charts): they need no plotnine import.
SVG_ONLY_PAGES = frozenset({"index.html"})
CSP = ("default-src 'none'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
MESSAGES = {
    "level": "Monitoring level saved; every worker applies it within a few seconds.",
    "level-cleared": "Override removed; the configured level applies again.",
    "pruned": "Old data deleted.",
}


class Dashboard:
    """State of one app's dashboard: accounts, throttle, page and chart caches."""

    def __init__(self, config: Config, location: StoreLocation, client_ip: Any) -> None:
        from fmd_profiler.report.render import ChartRenderer

        self.config = config
        self.location = location  # the local folder: sessions, throttle, generated secret
        # In fleet mode replicas on other pods share them through the catalog instead, and a
        # dashboard-only pod has no local folder at all.
        self.documents: Any = None
        if config.lake is not None:
            from fmd_profiler.fleet.state import CatalogDocuments

            self.documents = CatalogDocuments(config.lake.dsn)
        self.source = dashboard_source(config, location)
        self.client_ip = client_ip
        self.credentials = Credentials(config)
        self.clock: Callable[[], float] = time.time  # tests move it to expire sessions
        self.throttle = login_throttle(location, attempts=self._catalog_attempts())
        self.generations: Any = self._generations()
        self.pages = PageCache()
        self.renderer = ChartRenderer(processes=1)  # in-process, under one lock
        self.prefix = "/" + config.custom_link
        self._warned_secret = False
        self._generated_secret: str | None = None

    def _catalog_attempts(self) -> Any:
        if self.documents is None:
            return None
        from fmd_profiler.fleet.state import CatalogAttemptLog

        return CatalogAttemptLog(self.documents)

    def _generations(self) -> Any:
        if self.documents is None:
            return SessionGenerations(self.location.sessions_path)
        from fmd_profiler.fleet.state import CatalogSessionGenerations

        return CatalogSessionGenerations(self.documents)

    # -- sessions --------------------------------------------------------------------------------

    def codec(self) -> SessionCodec | None:
        secret = self.config.secret_key or current_app.secret_key or self._stored_secret()
        if not secret:
            return None
        return SessionCodec(secret, self.credentials.fingerprint(), SESSION_MAX_AGE_S,
                            clock=self.clock)

    def current(self, session: Session | None) -> Session | None:
        """``session`` while its account has not signed out since it was made."""
        if session is None or not session.signed_in:
            return session
        try:
            current = self.generations.current(session.role or "", session.user or "")
        except (OSError, StoreError):
            return None  # cannot tell whether it was revoked: not signed in
        return session if session.generation == current else None

    def _stored_secret(self) -> str | None:
        """Without SECRET_KEY and app.secret_key: one random key beside the store, shared by
        every worker (made by the first)."""
        if self._generated_secret is None:
            from fmd_profiler.dashboard.secret_file import KEY_BYTES, secret_path, shared_secret

            path: Any = f"{secret_path(self.location.database)} (readable by its owner only)"
            try:
                if self.documents is None:
                    self._generated_secret, created = shared_secret(
                        secret_path(self.location.database))
                else:  # every replica of the fleet signs with the same key
                    from fmd_profiler.fleet.state import TABLE, catalog_secret

                    path = f"the catalog database's {TABLE} table (readable by its users)"
                    self._generated_secret, created = catalog_secret(self.documents, KEY_BYTES)
            except ProfilerError as exc:
                if not self._warned_secret:
                    self._warned_secret = True
                    log.warning("fmd_profiler: the dashboard cannot sign sessions: %s", exc)
                return None
            if created:
                log.warning("fmd_profiler: no SECRET_KEY configured; the dashboard signs its "
                            "sessions with a random key kept in %s. Set SECRET_KEY to choose "
                            "your own.", path)
        return self._generated_secret

    def options(self, window: Any = None) -> Any:
        from fmd_profiler.queries.request_queries import Window
        from fmd_profiler.report.options import ReportOptions

        return ReportOptions(window=window or Window(), timezone=self.config.timezone,
                             colors=self.config.colors)


def make_blueprint(config: Config, location: StoreLocation, client_ip: Any) -> Blueprint:
    dash = Dashboard(config, location, client_ip)
    bp = Blueprint(DASHBOARD_BLUEPRINT, __name__, url_prefix=dash.prefix)

    @bp.before_request
    def require_session() -> Any:
        codec = dash.codec()
        if codec is None:
            return _plain("The dashboard is not available: it has no session secret and "
                          "cannot keep one beside its database (set SECRET_KEY in the "
                          "[dashboard] config).", 503)
        g.fmd_codec = codec
        session = dash.current(codec.loads(request.cookies.get(COOKIE)))
        g.fmd_session = session
        g.fmd_new_session = None
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if session is None or not session.signed_in:
            if request.method in ("GET", "HEAD") and not request.path.startswith(
                    f"{dash.prefix}/api/"):  # an API client wants a status, not a login form
                target = request.full_path if request.query_string else request.path
                return redirect(f"{dash.prefix}/login?next={quote(target)}")
            return _plain("Sign in first.", 401)
        if request.method == "POST" and not csrf_ok(session, request.form.get("csrf_token")):
            return _plain("The form was stale or not sent by the dashboard (CSRF token "
                          "missing or wrong); reload the page and try again.", 400)
        return None

    @bp.after_request
    def secure(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        fresh: Session | None = g.get("fmd_new_session")
        if fresh is not None:
            # Secure by default: behind a TLS-terminating proxy request.is_secure is false
            # although the browser speaks https (SECURE_COOKIE = false for plain-HTTP work).
            response.set_cookie(COOKIE, g.fmd_codec.dumps(fresh), max_age=SESSION_MAX_AGE_S,
                                path=dash.prefix, httponly=True, samesite="Lax",
                                secure=dash.config.secure_cookie)
        elif g.get("fmd_clear_session"):
            response.delete_cookie(COOKIE, path=dash.prefix, httponly=True, samesite="Lax",
                                   secure=dash.config.secure_cookie)
        return response

    # -- login ----------------------------------------------------------------------------------

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        session: Session | None = g.fmd_session
        if session is None:  # a pre-login session, so the login form has a CSRF token too
            session = new_session()
            g.fmd_new_session = session
        next_url = _safe_next(request.values.get("next"), dash.prefix)
        if request.method == "GET":
            return _login_page(session, next_url, None, 200)
        if not csrf_ok(g.fmd_session, request.form.get("csrf_token")):
            return _login_page(session, next_url, "The form was stale; please try again.", 400)
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        # Counted before the password is checked: parallel guesses cannot all pass the check.
        admission = dash.throttle.admit(dash.client_ip(request.environ), username)
        if admission.wait_s:
            response = _login_page(session, next_url, "Too many failed sign-ins; try again in "
                                   f"{admission.wait_s} s.", 429)
            response.headers["Retry-After"] = str(admission.wait_s)
            return response
        role = dash.credentials.check(username, password)
        if role is None:
            return _login_page(session, next_url, "Wrong user name or password.", 401)
        dash.throttle.succeeded(admission)
        # a new token: no session fixation; the account's generation: revocable by sign-out
        g.fmd_new_session = new_session(username, role, dash.generations.current(role, username))
        return redirect(next_url)

    @bp.route("/logout", methods=["POST"])
    def logout() -> Any:
        session: Session = g.fmd_session
        try:  # every copy of this account's cookie stops working, in every worker
            dash.generations.bump(session.role or "", session.user or "")
        except (OSError, StoreError) as exc:
            where = getattr(dash.generations, "path", "the catalog")
            log.warning("fmd_profiler: sign-out could not end the session everywhere (cannot "
                        "write %s: %s); it ends when the cookie expires", where, exc)
        g.fmd_clear_session = True
        return redirect(f"{dash.prefix}/login")

    # -- pages ----------------------------------------------------------------------------------

    @bp.route("/")
    def index() -> Any:
        return _page(dash, "index.html")

    @bp.route("/<path:path>")
    def page(path: str) -> Any:
        if not path.endswith(".html"):
            abort(404)
        return _page(dash, path)

    @bp.route("/api/summary")
    def api_summary() -> Any:
        from fmd_profiler.report.json_summary import build_summary, dump_summary

        try:
            window, _ = _window(dash, use_cookie=False)
        except ProfilerError as exc:
            return _plain(str(exc), 400)
        _flush_this_process()
        try:
            if not dash.source.has_data():
                return _plain("No data recorded yet.", 404)
            with dash.source.read() as con:
                summary = build_summary(con, window)
        except StoreError as exc:
            return _unavailable(exc)
        return Response(dump_summary(summary), mimetype="application/json")

    @bp.route("/csv/<path:path>")
    def table_csv(path: str) -> Any:
        from fmd_profiler.dashboard.tables import csv_file_name, html_tables, table_csv

        try:
            index = int(request.args.get("table", ""))
        except ValueError:
            return _plain("Say which table: ?table=0 for the page's first.", 400)
        try:
            html = _page_html(dash, path) if dash.source.has_data() else None
        except StoreError as exc:
            return _unavailable(exc)
        except ProfilerError as exc:  # a time range that cannot be read
            return _plain(str(exc), 400)
        tables = html_tables(html) if html is not None else []
        if not 0 <= index < len(tables):
            abort(404)
        response = Response(table_csv(tables[index]), mimetype="text/csv")
        response.headers["Content-Disposition"] = \
            f"attachment; filename={csv_file_name(path, index)}"
        return response

    @bp.route("/profiles/<name>")
    def profile_file(name: str) -> Any:
        return _download(dash, f"profiles/{name}")

    @bp.route("/charts/<key>.<suffix>")
    def chart(key: str, suffix: str) -> Any:
        image = dash.renderer.cache.get(key)
        if image is None:
            abort(404)
        # The key names one chart, whose kind fixes its format: a wrong suffix finds nothing.
        media_type = "image/svg+xml" if image.startswith(b"<svg") else "image/png"
        if CHART_SUFFIXES[media_type] != suffix:
            abort(404)
        response = Response(image, mimetype=media_type)
        response.headers["Cache-Control"] = "private, max-age=86400, immutable"
        return response

    @bp.route("/static/<name>")
    def static(name: str) -> Any:
        from fmd_profiler.report.site import STATIC_FILES, static_file

        if name not in STATIC_FILES:
            abort(404)
        mimetype = "text/css" if name.endswith(".css") else "text/javascript"
        response = Response(static_file(name), mimetype=mimetype)
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response

    # -- settings and admin actions --------------------------------------------------------------

    @bp.route("/settings")
    def settings() -> Any:
        return _settings_page(dash, request.args.get("done"), None, 200)

    @bp.route("/settings/level", methods=["POST"])
    def set_level() -> Any:
        if not g.fmd_session.is_admin:
            return _plain("Only the admin may change monitoring levels.", 403)
        endpoint = request.form.get("endpoint", "")
        raw = request.form.get("level", "")
        try:
            with dash.source.read() as con:
                known = {r["endpoint"] for r in admin.known_routes(con)}
        except StoreError as exc:
            return _unavailable(exc)
        if endpoint not in known:
            return _settings_page(dash, None, f"Unknown endpoint {endpoint!r}.", 400)
        try:
            level = None if raw == "default" else int(raw)
            admin.set_level(dash.source, endpoint, level)
        except (ValueError, ProfilerError) as exc:
            return _settings_page(dash, None, f"Level not saved: {exc}", 400)
        dash.pages.clear()
        done = "level" if level is not None else "level-cleared"
        return redirect(f"{dash.prefix}/settings?done={done}")

    @bp.route("/settings/prune", methods=["POST"])
    def prune() -> Any:
        if not g.fmd_session.is_admin:
            return _plain("Only the admin may delete data.", 403)
        try:
            days = int(request.form.get("days", ""))
            deleted = admin.prune(dash.source, days)
        except ValueError:
            return _settings_page(dash, None, "Give the number of days of data to keep.", 400)
        except ProfilerError as exc:
            return _settings_page(dash, None, str(exc), 400)
        log.warning("fmd_profiler: %s deleted %d requests older than %d days from the dashboard",
                    g.fmd_session.user, deleted, days)
        dash.pages.clear()
        return redirect(f"{dash.prefix}/settings?done=pruned")

    bp.dashboard = dash  # type: ignore[attr-defined]  # for tests: its clock
    return bp


# -- helpers --------------------------------------------------------------------------------------

def _plain(text: str, status: int) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")


def _unavailable(exc: StoreError) -> Response:
    # Store errors name the problem and never a secret (the lake's DSN is shown redacted).
    log.warning("fmd_profiler: the dashboard could not read the store: %s", exc)
    response = _plain(f"The store is unavailable: {exc}", 503)
    response.headers["Retry-After"] = "10"
    return response


def _safe_next(target: str | None, prefix: str) -> str:
    """Only a path inside the dashboard: never another host (an open redirect), never a
    control character (a CR/LF would split the Location header)."""
    if target and not any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and (
                parts.path == prefix or parts.path.startswith(prefix + "/")) \
                and "\\" not in target:
            return target
    return prefix + "/"


def _live(session: Session) -> dict[str, Any]:
    return {"user": session.user, "role": session.role, "csrf_token": session.csrf_token,
            "is_admin": session.role == ADMIN, **_chosen_range()}


def _chosen_range() -> dict[str, str]:
    """The raw since/until the header's picker shows (from the URL, else the cookie)."""
    if "since" in request.args or "until" in request.args:
        since, until = request.args.get("since", ""), request.args.get("until", "")
    else:
        since, _, until = (request.cookies.get(RANGE_COOKIE) or "|").partition("|")
    return {"since": since.strip()[:64] or "all", "until": until.strip()[:64]}


def _flush_this_process() -> None:
    """Write this process's buffered rows first, so a page shows the requests this very process
    just served rather than waiting for its next flush (never raises: a page is still shown)."""
    state = current_app.extensions.get("fmd_profiler")
    runtime = getattr(state, "runtime", None)
    if runtime is None:
        return
    try:
        runtime.flush()
    except Exception as exc:  # the store's trouble is the writer's to report, not a page's
        log.debug("fmd_profiler: flush before a dashboard read failed: %s", exc)


RANGE_COOKIE = "fmd_profiler_range"


def _window(dash: Dashboard, *, use_cookie: bool = True) -> tuple[Any, str]:
    """The time range asked for (``?since=7d&until=...``, else the one chosen before, kept in
    a cookie) as a Window, and its raw form; raises ProfilerError naming the accepted forms."""
    from fmd_profiler.queries.request_queries import Window
    from fmd_profiler.report.report_cli import parse_time

    if "since" in request.args or "until" in request.args:
        since, until = request.args.get("since", ""), request.args.get("until", "")
        g.fmd_range = f"{since}|{until}"  # remembered for the next pages
    elif use_cookie:
        since, _, until = (request.cookies.get(RANGE_COOKIE) or "|").partition("|")
    else:
        since = until = ""
    since, until = since.strip()[:64], until.strip()[:64]
    if since == "all":
        since = ""
    zone = dash.config.timezone
    return (Window(since=parse_time(since, zone) if since else None,
                   until=parse_time(until, zone) if until else None), f"{since}|{until}")


def _built(dash: Dashboard, path: str) -> BuiltPage | None:
    """The page model at ``path`` (as in the static site) for the chosen time range, from the
    cache while still valid."""
    from fmd_profiler.report.pages import build_page, navigation

    window, raw = _window(dash)
    options = dash.options(window)

    def build() -> Any:
        with dash.source.read() as con:
            page = build_page(con, options, path, ahead=dash.renderer.draw_ahead)
            return None if page is None else (page, navigation(con, options))

    return dash.pages.get(f"{path}?{raw}", dash.source.version(), build)


def _page_html(dash: Dashboard, path: str) -> str | None:
    """The HTML of the page at ``path``, or None when there is no such page."""
    from fmd_profiler.report.site import SiteContext, render_page

    built = _built(dash, path)
    if built is None:
        return None
    specs = built.page.all_charts()
    images = dash.renderer.render(specs)
    files = {spec.key: spec.filename for spec in specs if spec.key in images}
    site = SiteContext(options=dash.options(_window(dash)[0]), nav=built.nav,
                       generated_at=datetime.fromtimestamp(built.built_at, UTC)
                       .replace(tzinfo=None), live=_live(g.fmd_session))
    return render_page(built.page, site, files, dash.renderer.failed)


def _page(dash: Dashboard, path: str) -> Response:
    from fmd_profiler.dashboard.tables import add_csv_links
    from fmd_profiler.report.render import prepare_drawing

    if path not in SVG_ONLY_PAGES:
        prepare_drawing()  # plotnine imports while the page's queries run
    _flush_this_process()
    try:
        if not dash.source.has_data():
            return _plain("No data recorded yet: the dashboard fills as soon as the app serves "
                          "requests.", 200)
        html = _page_html(dash, path)
    except StoreError as exc:
        return _unavailable(exc)
    except ProfilerError as exc:  # a time range that cannot be read
        return _plain(str(exc), 400)
    if html is None:
        abort(404)
    response = Response(add_csv_links(html, f"{dash.prefix}/csv/{quote(path)}"),
                        mimetype="text/html")
    chosen = g.get("fmd_range")
    if chosen is not None:
        response.set_cookie(RANGE_COOKIE, chosen, max_age=SESSION_MAX_AGE_S, path=dash.prefix,
                            httponly=True, samesite="Lax", secure=request.is_secure)
    return response


def _download(dash: Dashboard, path: str) -> Response:
    """A file an endpoint page links to (a profile export), from that page's model."""
    from fmd_profiler.report.pages import download_page

    _flush_this_process()
    try:
        if not dash.source.has_data():
            abort(404)
        with dash.source.read() as con:
            owner = download_page(con, dash.options(), path)
        built = _built(dash, owner) if owner is not None else None
    except StoreError as exc:
        return _unavailable(exc)
    found = next((d for d in built.page.all_downloads() if d.path == path),
                 None) if built is not None else None
    if found is None:
        abort(404)
    response = Response(found.data, content_type=found.media_type)
    response.headers["Content-Disposition"] = "attachment"
    return response


def _settings_page(dash: Dashboard, done: str | None, error: str | None,
                   status: int) -> Response:
    from fmd_profiler.report.model import Page
    from fmd_profiler.report.options import utc_now
    from fmd_profiler.report.pages import navigation
    from fmd_profiler.report.site import SiteContext, render_page

    options = dash.options()
    _flush_this_process()
    try:
        with dash.source.read() as con:
            routes = admin.known_routes(con)
            nav = navigation(con, options)
            current = dash.source.overrides(con)
    except StoreError as exc:
        return _unavailable(exc)
    context = {
        "routes": [{**r, "override": current.get(r["endpoint"])} for r in routes],
        "level_names": admin.LEVEL_NAMES,
        "fmd_levels": {level: our_level_as_fmd(level) for level in admin.LEVEL_NAMES},
        "public_config": sorted(dash.config.public_dict().items()),
        "message": MESSAGES.get(done or ""),
        "error": error,
        "retention_days": dash.config.retention_days,
        # Levels 2-3 need the profiler's hooks, attached only at start-up (see may_profile).
        "profiler_attached": may_profile(dash.config),
    }
    page = Page("settings", "Settings", "settings.html", context)
    site = SiteContext(options=options, nav=nav, generated_at=utc_now(),
                       live=_live(g.fmd_session))
    return Response(render_page(page, site, {}), status=status, mimetype="text/html")


def _login_page(session: Session, next_url: str, error: str | None, status: int) -> Response:
    from fmd_profiler.report.site import static_file, template_env

    nonce = secrets.token_urlsafe(16)
    html = template_env().get_template("login.html").render(
        csrf_token=session.csrf_token, next_url=next_url, error=error, nonce=nonce,
        css=static_file("style.css").decode("utf-8"))
    response = Response(html, status=status, mimetype="text/html")
    # The login page is the one page shown signed out: its stylesheet is inline, allowed by a
    # nonce, because every other dashboard URL (static files included) needs a session.
    response.headers["Content-Security-Policy"] = CSP.replace(
        "style-src 'self'", f"style-src 'nonce-{nonce}'")
    return response

