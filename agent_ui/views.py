"""The agent workstation."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from callcenter.auth.access import allow_roles
from callcenter.states import Role

bp = Blueprint(
    "agent_ui",
    __name__,
    url_prefix="/agent",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/agent_ui",
)


@bp.get("/")
@allow_roles(Role.AGENT)
def home() -> ResponseReturnValue:
    return render_template("agent_ui/home.html")
