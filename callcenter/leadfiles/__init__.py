"""Reading lead lists (CSV, XLSX) into normalised leads; pure, no DB.

The import service streams `open_lead_file(...)` and writes each ParsedLead;
RowErrors go to the import report with their line numbers.
"""

from callcenter.leadfiles.errors import LeadFileError
from callcenter.leadfiles.headers import Field, HeaderMap, map_headers
from callcenter.leadfiles.leads import (
    ImportStats,
    LeadFile,
    ParsedLead,
    RowError,
    RowErrorCode,
    cell_text,
    duplicate_error,
    open_lead_file,
    parse_row,
)
from callcenter.leadfiles.names import locale_hint, normalize_title, split_full_name
from callcenter.leadfiles.phones import (
    DEFAULT_REGION,
    InvalidPhone,
    Phone,
    PhoneType,
    normalize_phone,
)
from callcenter.leadfiles.readers import FileFormat, SourceRow
from callcenter.leadfiles.text import normalize_text, to_ascii_digits

__all__ = [
    "DEFAULT_REGION",
    "Field",
    "FileFormat",
    "HeaderMap",
    "ImportStats",
    "InvalidPhone",
    "LeadFile",
    "LeadFileError",
    "ParsedLead",
    "Phone",
    "PhoneType",
    "RowError",
    "RowErrorCode",
    "SourceRow",
    "cell_text",
    "duplicate_error",
    "locale_hint",
    "map_headers",
    "normalize_phone",
    "normalize_text",
    "normalize_title",
    "open_lead_file",
    "parse_row",
    "split_full_name",
    "to_ascii_digits",
]
