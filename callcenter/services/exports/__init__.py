"""Exports of every report and of raw call records, as CSV (UTF-8 with BOM)
or XLSX, streamed, and written to the audit log when they finish."""

from callcenter.services.exports.service import (
    EXPORT_FORMATS,
    EXPORT_KINDS,
    Export,
    InvalidExport,
    start_export,
)

__all__ = ["EXPORT_FORMATS", "EXPORT_KINDS", "Export", "InvalidExport", "start_export"]
