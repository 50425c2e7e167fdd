"""Reading lead lists (CSV, XLSX) into normalised leads; pure, no DB.

The import service streams `open_lead_file(...)` and writes each ParsedLead;
RowErrors go to the import report with their line numbers.
"""

from callcenter.leadfiles.errors import LeadFileError, Message
from callcenter.leadfiles.headers import Field, HeaderMap, guess_field, map_headers
from callcenter.leadfiles.leads import (
    ImportStats,
    LeadFile,
    ParsedLead,
    RowError,
    RowErrorCode,
    cell_text,
    duplicate_error,
    open_lead_file,
    open_rows,
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
from callcenter.leadfiles.preview import (
    AS_DETECTED,
    FilePreview,
    PreviewColumn,
    PreviewRow,
    ReadOptions,
    preview_lead_file,
)
from callcenter.leadfiles.readers import DELIMITER_NAMES, FileFormat, SourceRow, delimiter_of
from callcenter.leadfiles.text import excerpt, normalize_text, to_ascii_digits

__all__ = [
    "AS_DETECTED",
    "DEFAULT_REGION",
    "DELIMITER_NAMES",
    "Field",
    "FileFormat",
    "FilePreview",
    "HeaderMap",
    "ImportStats",
    "InvalidPhone",
    "LeadFile",
    "LeadFileError",
    "Message",
    "ParsedLead",
    "Phone",
    "PhoneType",
    "PreviewColumn",
    "PreviewRow",
    "ReadOptions",
    "RowError",
    "RowErrorCode",
    "SourceRow",
    "cell_text",
    "delimiter_of",
    "duplicate_error",
    "excerpt",
    "guess_field",
    "locale_hint",
    "map_headers",
    "normalize_phone",
    "normalize_text",
    "normalize_title",
    "open_lead_file",
    "open_rows",
    "parse_row",
    "preview_lead_file",
    "split_full_name",
    "to_ascii_digits",
]
