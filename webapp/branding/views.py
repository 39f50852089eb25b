"""Settings → Branding (admin), and the public logo and theme stylesheet the public pages link to."""

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for

from webapp.branding import services
from webapp.branding.forms import BrandingForm, LogoForm

bp = Blueprint("branding", __name__)
YEAR = 365 * 24 * 3600


@bp.route("/settings/branding", methods=["GET", "POST"])
def edit():
    """Business name, accent colour, default sender and the "Sent by OneSlot" line."""
    form = BrandingForm()
    if form.validate_on_submit():
        services.save(**form.settings())
        flash("Branding saved. Booking pages and new emails use it now.", "success")
        return redirect(url_for("branding.edit"), 303)
    if request.method == "GET":
        form = _saved_form()
    return _page(form, LogoForm(formdata=None))


@bp.post("/settings/branding/logo")
def logo_upload():
    """Upload a logo (PNG, JPEG or WebP; resized to at most 400×120)."""
    form = LogoForm()
    if form.validate_on_submit():
        try:
            services.set_logo(form.logo.data.read(services.LOGO_MAX_BYTES + 1))
        except services.LogoError as exc:
            form.logo.errors.append(str(exc))
        else:
            flash("Logo saved.", "success")
            return redirect(url_for("branding.edit"), 303)
    return _page(_saved_form(), form)


@bp.post("/settings/branding/logo/remove")
def logo_remove():
    """Remove the logo."""
    services.remove_logo()
    flash("Logo removed.", "success")
    return redirect(url_for("branding.edit"), 303)


def _saved_form() -> BrandingForm:
    brand = services.current()
    return BrandingForm(
        formdata=None,
        business_name=brand.business_name,
        accent=brand.accent or services.DEFAULT_ACCENT,
        sender_name=brand.sender_name,
        sender_email=brand.sender_email,
        powered_by=brand.powered_by,
    )


def _page(form: BrandingForm, logo_form: LogoForm):
    status = 422 if form.errors or logo_form.errors else 200
    html = render_template(
        "settings/branding.html",
        form=form,
        logo_form=logo_form,
        from_line=services.from_line(),
        default_from=services.default_sender(),
    )
    return html, status


@bp.get("/brand/logo/<int:version>")
def logo(version):
    """The logo, at a URL that changes with every branding save: cached for a year."""
    brand = services.current()
    found = services.logo_bytes(brand.version) if brand.has_logo else None
    if found is None:
        abort(404)
    content, mimetype = found
    response = make_response(content)
    response.headers["Content-Type"] = mimetype
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    # Another version's URL (a page rendered before a save) gets today's logo, not kept for long.
    response.headers["Cache-Control"] = (
        f"public, max-age={YEAR}, immutable" if version == brand.version else "public, max-age=60"
    )
    return response


@bp.get("/brand/theme/<int:version>.css")
def theme(version):
    """The accent colour as Pico's custom properties (a stylesheet: the CSP allows no inline style)."""
    brand = services.current()
    palette = brand.colours
    if palette is None:
        abort(404)
    response = make_response(render_template("settings/theme.css", colours=palette))
    response.headers["Content-Type"] = "text/css; charset=utf-8"
    response.headers["Cache-Control"] = (
        f"public, max-age={YEAR}, immutable" if version == brand.version else "public, max-age=60"
    )
    return response
