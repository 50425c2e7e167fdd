"""Call scripts: the built-in 9-step scripts (data under `builtin/`) and a
small pure engine to load, validate and fill them. No web or database imports."""

from scripts.engine import (
    call_context,
    prompt_segments,
    render_message,
    render_prompt,
    render_tips,
    tip_segments,
)
from scripts.errors import Problem, ScriptError, ScriptPathError
from scripts.greetings import day_period, greeting
from scripts.loader import (
    BUILTIN_DIR,
    load_builtin_scripts,
    load_script_file,
    parse_definition,
    parse_script,
)
from scripts.model import PLACEHOLDERS, RejectionReason, Script, Step
from scripts.path import Move, ScriptPath
from scripts.placeholders import Segment, render, segments

__all__ = [
    "BUILTIN_DIR",
    "PLACEHOLDERS",
    "Move",
    "Problem",
    "RejectionReason",
    "Script",
    "ScriptError",
    "ScriptPath",
    "ScriptPathError",
    "Segment",
    "Step",
    "call_context",
    "day_period",
    "greeting",
    "load_builtin_scripts",
    "load_script_file",
    "parse_definition",
    "parse_script",
    "prompt_segments",
    "render",
    "render_message",
    "render_prompt",
    "render_tips",
    "segments",
    "tip_segments",
]
