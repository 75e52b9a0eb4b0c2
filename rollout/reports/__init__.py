"""Shared output: PDF reports, spreadsheet exports, SVG charts and calendar files."""
