from __future__ import annotations

from callcenter.errors import InvalidInput


class LeadFileError(InvalidInput):
    """The file as a whole cannot be imported (no phone column, not a CSV or
    XLSX, empty). Bad rows are never this: they are RowError results."""

    error_id = "lead-file-invalid"
