"""The admin console under /admin: server-rendered pages over the admin service
(server/service/), which the JSON admin API calls too.

Login is with an admin account — a name and a password hashed with werkzeug's scrypt — created
on the server with `flask --app server admins add NAME`. Logging in starts a server-side session:
the signed cookie carries a random token, the database only its sha256, so logging out or
changing a password ends the session in every worker. Every form carries a CSRF token.
The service's refusals are shown as pages with the status the JSON API answers with
(server/web.py: domain_error), or, for a form, back on its page.
"""
from __future__ import annotations

from typing import Optional

from flask import (Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, session,
                   url_for)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from engine.detectors import DETECTOR_NAMES
from engine.fileio import StorageError
from engine.policy import PolicyError, parse_pack
from engine.registry import RegistryError
from server.admin import query_int
from server.extensions import configured_limit
from server.service import DOMAIN_ERRORS, Conflict, Invalid, NotFound, UploadRejected
from server.web import (DOMAIN_STATUSES, INTERNAL_ERROR, ApiError, domain_error, error_response, log_unexpected,
                        service, storage_error_reply)

bp = Blueprint("console", __name__, url_prefix="/admin", static_folder="static", static_url_path="/static")

PUBLIC_ENDPOINTS = {"console.login", "console.static"}
PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 100
PREVIEW_ROWS = 20
# Blank rows offered on the policy form for new categories and terms.
NEW_CATEGORY_ROWS, NEW_TERM_ROWS = 1, 3


def _render(template: str, http_status: int = 200, **context):
    return render_template(f"admin/{template}", **context), http_status


def _pages(total: int, size: int) -> int:
    return max(1, -(-total // size))


def _error_page(status: int, message: str):
    return _render("error.html", status, status=status, message=message)


# --- authentication, headers, errors --------------------------------------------------------

@bp.before_request
def _require_login():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = session.get("sid")
    name = service().session_admin(token) if isinstance(token, str) else None
    if name is None:
        if request.endpoint == "console.job_status":
            return error_response(401, "your console session ended; log in again")
        back = request.full_path if request.query_string else request.path
        return redirect(url_for("console.login", next=back if request.method == "GET" else None))
    g.admin = name
    return None


@bp.after_request
def _security_headers(response):
    # No inline scripts or styles anywhere in the console, so the policy can be strict.
    response.headers["Content-Security-Policy"] = ("default-src 'self'; frame-ancestors 'none'; "
                                                   "form-action 'self'; base-uri 'none'")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(ApiError)
def _refused(exc: ApiError):
    """A refused form action goes back to its page with the reason; anything else gets a page."""
    referrer = request.referrer or ""
    if request.method == "POST" and referrer.startswith(request.host_url + "admin"):
        flash(exc.message, "error")
        return redirect(referrer)
    return _error_page(exc.status, exc.message)


def _domain_refusal(exc: Exception):
    return _refused(domain_error(exc))


# The blueprint's handlers come before the app's JSON ones, class by class: every domain error
# the app maps needs its page here.
for _kind, _ in DOMAIN_STATUSES:
    bp.register_error_handler(_kind, _domain_refusal)


@bp.errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError):
    return _error_page(400, "This form has expired or was not sent from the console, so nothing was changed. "
                            "Go back, reload the page and submit it again.")


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge):
    limit = current_app.config["ADMIN_UPLOAD_MAX_BYTES"]
    return _error_page(413, f"The upload is larger than the limit of {limit / 1024 / 1024:.1f} MB, so nothing was "
                            "stored. Split the file and upload the parts.")


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 429:
        return _error_page(429, f"Too many attempts (the limit is {exc.description}). Wait a minute and try again.")
    return _error_page(exc.code or 500, exc.description)


@bp.errorhandler(RegistryError)
def _registry_unusable(exc: RegistryError):
    return _error_page(503, f"The model registry cannot be used: {exc}. Checks keep being answered by the model "
                            "each worker has; restore models/registry.json from a backup.")


@bp.errorhandler(StorageError)
def _cannot_save(exc: StorageError):
    status, message, _ = storage_error_reply(exc)
    return _error_page(status, message[0].upper() + message[1:] + ".")


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    log_unexpected(exc)
    return _error_page(500, INTERNAL_ERROR)


# --- login and logout ---------------------------------------------------------------------

def _safe_next(target: Optional[str]) -> str:
    # Only back into the console: never an open redirect to another site.
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("console.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@configured_limit("LOGIN_RATE_LIMIT", methods=["POST"])
def login():
    if request.method == "GET":
        return _render("login.html", next=request.args.get("next", ""), no_admins=not service().admins())
    name = request.form.get("name", "").strip()
    token = service().log_in(name, request.form.get("password", ""), request.remote_addr,
                             current_app.permanent_session_lifetime.total_seconds())
    if token is None:
        return _render("login.html", 401, next=request.form.get("next", ""), name=name,
                       error="That name and password do not match an admin account.")
    session.clear()  # a fresh session (and CSRF token) for the logged-in admin
    session["sid"] = token
    session.permanent = True
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    service().log_out(session["sid"], g.admin)
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("console.login"))


# --- overview -----------------------------------------------------------------------------

@bp.get("/")
def dashboard():
    active = next((v for v in service().model_versions() if v["active"]), None)
    jobs = service().recent_jobs(3)  # first: it fails a job whose process stopped beating
    return _render("dashboard.html", active=active, live_job=service().live_job(), jobs=jobs,
                   feedback=service().feedback_summary(), examples=service().examples_page(1)[1],
                   audit=service().audit_page(8)[0])


# --- policy pack --------------------------------------------------------------------------

def _form_rows(prefix: str, fields: tuple[str, ...], key_fields: tuple[str, ...]) -> list[dict]:
    """Rows named <prefix>-<n>-<field>, minus deleted ones and blank ones."""
    numbers = sorted({int(k.split("-")[1]) for k in request.form
                      if k.startswith(prefix + "-") and k.split("-")[1].isdigit()})
    rows = []
    for n in numbers:
        row = {f: request.form.get(f"{prefix}-{n}-{f}", "").strip() for f in fields}
        if request.form.get(f"{prefix}-{n}-delete") or not any(row[f] for f in key_fields):
            continue
        rows.append(row)
    return rows


def _pack_from_form() -> dict:
    fields = ("id", "title", "guidance", "policy_ref", "threshold")
    # Existing ids are read-only on the form, so a category's former ids follow it by id.
    formerly = {c.id: c.formerly for c in service().current_policy().categories}
    categories = [{**row, "threshold": row["threshold"] or None, "formerly": formerly.get(row["id"], [])}
                  for row in _form_rows("cat", fields, fields)]
    detectors = {name: request.form.get(f"det-{name}", "") for name in DETECTOR_NAMES}
    return {"name": request.form.get("name", "").strip(), "version": request.form.get("version", ""),
            "categories": categories, "terms": _form_rows("term", ("term", "category"), ("term",)),
            "detectors": detectors}


def _policy_page(form: dict, status: int = 200, error: Optional[str] = None):
    current = service().current_policy()
    return _render("policy.html", status, form=form, error=error, existing_ids=current.category_ids,
                   scored=service().model_scores(current), detector_names=DETECTOR_NAMES,
                   new_categories=NEW_CATEGORY_ROWS, new_terms=NEW_TERM_ROWS)


def _sentence(message: str) -> str:
    return message[0].upper() + message[1:] + "."


def _flash_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        flash(_sentence(warning), "warning")


@bp.get("/policy")
def policy():
    return _policy_page(service().current_policy().model_dump())


@bp.post("/policy")
def save_policy():
    form = _pack_from_form()
    try:
        pack = parse_pack(form)
    except PolicyError as exc:
        return _policy_page(form, 400, str(exc))  # the admin's edits stay on the form
    try:
        saved, warnings = service().save_policy(pack, g.admin)
    except Conflict as exc:
        return _policy_page(form, domain_error(exc).status, str(exc))
    flash(f"Policy saved as version {saved.version}. Checks use it from their next request.", "success")
    _flash_warnings(warnings)
    return redirect(url_for("console.policy"))


@bp.post("/policy/rename")
def rename_category():
    old, new = request.form.get("category", ""), request.form.get("to", "").strip()
    version = request.form.get("version", "")
    if not version.isdigit():
        raise ApiError(400, "the form lacks the policy version; reload the page")
    try:
        saved, relabelled = service().rename_category(old, new, int(version), g.admin)
    except (Invalid, NotFound, Conflict) as exc:
        return _policy_page(service().current_policy().model_dump(), domain_error(exc).status, str(exc))
    flash(f"Renamed {old} to {new} (policy version {saved.version}); relabelled {relabelled['examples']} stored "
          f"examples and {relabelled['feedback']} feedback reports. Training data and models that use {old} "
          f"still count for {new}.", "success")
    _flash_warnings(service().policy_warnings(saved))
    return redirect(url_for("console.policy"))


# --- feedback review ----------------------------------------------------------------------

@bp.get("/feedback")
def feedback():
    return _render("feedback.html", items=service().feedback("new"), summary=service().feedback_summary(),
                   pack=service().current_policy())


@bp.post("/feedback/<int:feedback_id>/label")
def label_feedback(feedback_id: int):
    labels = request.form.getlist("labels")
    example_id = service().label_feedback(feedback_id, labels, g.admin)
    flash(f"Feedback #{feedback_id} is now example #{example_id}, labelled {', '.join(labels) or 'clean'}.", "success")
    return redirect(url_for("console.feedback"))


@bp.post("/feedback/<int:feedback_id>/discard")
def discard_feedback(feedback_id: int):
    service().discard_feedback(feedback_id, g.admin)
    flash(f"Feedback #{feedback_id} discarded.", "success")
    return redirect(url_for("console.feedback"))


# --- examples -----------------------------------------------------------------------------

@bp.get("/examples")
def examples():
    page = query_int("page", 1, 1, 10**6)
    items, total = service().examples_page(PAGE_SIZE, (page - 1) * PAGE_SIZE)
    return _render("examples.html", items=items, total=total, page=page, pages=_pages(total, PAGE_SIZE),
                   labels=service().example_labels(), max_mb=current_app.config["ADMIN_UPLOAD_MAX_BYTES"] / 2**20)


def _preview_page(filename: str, examples=None, errors=None, upload_id: Optional[str] = None):
    labels: dict[str, int] = {}
    for example in examples or ():
        for label in example.labels or ("clean",):
            labels[label] = labels.get(label, 0) + 1
    return _render("preview.html", 400 if errors else 200, filename=filename, errors=errors,
                   count=len(examples or ()), rows=(examples or [])[:PREVIEW_ROWS], labels=labels,
                   upload_id=upload_id)


@bp.post("/examples/preview")
def preview_upload():
    """Validate the file and show what would be stored; it waits for the admin's confirmation."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a .csv or .jsonl file to upload.", "error")
        return redirect(url_for("console.examples"))
    filename = upload.filename[:200]
    try:
        upload_id, parsed = service().preview_upload(upload.read(), filename, g.admin)
    except UploadRejected as exc:
        return _preview_page(filename, errors=exc.details)
    return _preview_page(filename, parsed, upload_id=upload_id)


@bp.post("/examples/import")
def import_upload():
    try:
        filename, stored = service().confirm_upload(request.form.get("upload_id", ""), g.admin)
    except NotFound as exc:
        flash(_sentence(str(exc)), "error")
        return redirect(url_for("console.examples"))
    except UploadRejected as exc:  # examples stored since the preview
        return _preview_page(exc.filename, errors=exc.details)
    flash(f"Stored {stored} examples from {filename}. The next training uses them.", "success")
    return redirect(url_for("console.examples"))


@bp.post("/examples/<int:example_id>/delete")
def delete_example(example_id: int):
    service().delete_example(example_id, g.admin)
    flash(f"Example #{example_id} deleted.", "success")
    return redirect(request.referrer if (request.referrer or "").startswith(request.host_url + "admin/examples")
                    else url_for("console.examples"))


# --- training -----------------------------------------------------------------------------

@bp.get("/training")
def training():
    jobs = service().recent_jobs()  # first: it fails a job whose process stopped beating
    return _render("training.html", jobs=jobs, live_job=service().live_job(),
                   examples=service().examples_page(1)[1], active=service().active_model_version())


@bp.post("/training")
def start_training():
    job_id = service().start_training(g.admin)
    return redirect(url_for("console.job", job_id=job_id))


@bp.get("/jobs/<job_id>")
def job(job_id: str):
    return _render("job.html", job=service().job_status(job_id), active=service().active_model_version())


@bp.get("/jobs/<job_id>/status")
def job_status(job_id: str):
    """What the job page polls."""
    try:
        return jsonify(service().job_status(job_id))
    except DOMAIN_ERRORS as exc:
        refusal = domain_error(exc)
        return error_response(refusal.status, refusal.message)


# --- model versions -----------------------------------------------------------------------

@bp.get("/models")
def models():
    return _render("models.html", versions=service().model_versions(), active=service().active_model_version())


@bp.post("/models/<version>/activate")
def activate(version: str):
    previous = service().activate_model(version, g.admin)
    flash(f"{version} is now the active model (it replaced {previous}). Every worker answers with it "
          "from its next check.", "success")
    return redirect(url_for("console.models"))


@bp.get("/models/<version>/compare")
def compare(version: str):
    result = service().comparison(version, request.args.get("baseline"))
    return _render("compare.html", result=result, active=service().active_model_version(),
                   versions=service().model_versions())


# --- statistics and audit -----------------------------------------------------------------

@bp.get("/stats")
def stats():
    return _render("stats.html", stats=service().statistics(query_int("days", 30, 1, 366)),
                   pack=service().current_policy())


@bp.get("/audit")
def audit():
    page = query_int("page", 1, 1, 10**6)
    items, total = service().audit_page(AUDIT_PAGE_SIZE, (page - 1) * AUDIT_PAGE_SIZE)
    return _render("audit.html", items=items, total=total, page=page, pages=_pages(total, AUDIT_PAGE_SIZE))
