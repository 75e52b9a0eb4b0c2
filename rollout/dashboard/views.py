"""Home page and health check."""
from flask import Blueprint, jsonify, render_template
from sqlalchemy import text

from rollout.access import PUBLIC, require
from rollout.extensions import db

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@require("home.view")
def home():
    return render_template("dashboard/home.html")


@bp.route("/healthz")
@require(PUBLIC)
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database failure means "not healthy", never a 500
        db.session.rollback()
        return jsonify({"status": "unavailable"}), 503
    return jsonify({"status": "ok"})
