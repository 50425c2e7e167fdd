"""Appointment slots and their read-back; pure, no database or web imports."""

from callcenter.scheduling.hours import DEFAULT_WORKING_HOURS, Window, WorkingHours
from callcenter.scheduling.readback import ReadBack, format_phone, read_back, slot_label
from callcenter.scheduling.slots import (
    NoFreeSlotsError,
    OpenSlot,
    Slot,
    SlotRules,
    free_slots,
    free_slots_across,
    half_day,
    propose_slots,
    propose_slots_across,
)

__all__ = [
    "DEFAULT_WORKING_HOURS",
    "NoFreeSlotsError",
    "OpenSlot",
    "ReadBack",
    "Slot",
    "SlotRules",
    "Window",
    "WorkingHours",
    "format_phone",
    "free_slots",
    "free_slots_across",
    "half_day",
    "propose_slots",
    "propose_slots_across",
    "read_back",
    "slot_label",
]
