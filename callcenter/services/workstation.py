"""The agent's workstation: the services the agent's screen calls, gathered
from the modules that each do one job of it.

- `call_access`: which call is the agent's (`own_call`, `open_call`);
- `call_script`: the pinned script, its filled-in prompts, the path through
  the steps and the rejection;
- `call_notes`: the agent's note on the call;
- `customer_history`: the customer card and their full history;
- `booking_panel`: slots, salespeople and the booked meeting (steps 5-7);
- `previews`: preview mode (offer, dial, skip);
- `call_screen`: the screen pop and the view after a reload.

Every function that takes an agent and a call checks the call is that agent's."""

from __future__ import annotations

from callcenter.services.booking_panel import (
    after_booking,
    booking_data,
    free_slots_view,
    slot_data,
    slots_for_salesperson,
)
from callcenter.services.call_access import open_call, own_call
from callcenter.services.call_notes import (
    MAX_NOTES,
    call_note,
    checked_notes,
    final_notes,
    save_notes,
)
from callcenter.services.call_screen import SCREEN_POP, current_view, screen_pop
from callcenter.services.call_script import (
    MOVE_KINDS,
    move_step,
    record_rejection,
    rejection_of,
    rendered_script,
    script_context,
    script_version_of,
    start_script,
)
from callcenter.services.customer_history import (
    HISTORY_LIMIT,
    appointment_data,
    history,
    lead_card,
)
from callcenter.services.previews import (
    PREVIEW_OFFER,
    PREVIEW_SKIP_REASONS,
    offer_preview,
    pending_preview,
    preview_data,
    skip_preview,
    start_preview,
)

__all__ = [
    "HISTORY_LIMIT",
    "MAX_NOTES",
    "MOVE_KINDS",
    "PREVIEW_OFFER",
    "PREVIEW_SKIP_REASONS",
    "SCREEN_POP",
    "after_booking",
    "appointment_data",
    "booking_data",
    "call_note",
    "checked_notes",
    "current_view",
    "final_notes",
    "free_slots_view",
    "history",
    "lead_card",
    "move_step",
    "offer_preview",
    "open_call",
    "own_call",
    "pending_preview",
    "preview_data",
    "record_rejection",
    "rejection_of",
    "rendered_script",
    "save_notes",
    "screen_pop",
    "script_context",
    "script_version_of",
    "skip_preview",
    "slot_data",
    "slots_for_salesperson",
    "start_preview",
    "start_script",
]
