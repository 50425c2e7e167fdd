"""Appointment slots and their read-back; pure, no database or web imports."""

from callcenter.scheduling.hours import DEFAULT_WORKING_HOURS, Window, WorkingHours
from callcenter.scheduling.readback import ReadBack, format_phone, read_back, slot_label
from callcenter.scheduling.slots import (
    NoFreeSlotsError,
    Slot,
    SlotRules,
    free_slots,
    half_day,
    propose_slots,
)

__all__ = [
    "DEFAULT_WORKING_HOURS",
    "NoFreeSlotsError",
    "ReadBack",
    "Slot",
    "SlotRules",
    "Window",
    "WorkingHours",
    "format_phone",
    "free_slots",
    "half_day",
    "propose_slots",
    "read_back",
    "slot_label",
]
