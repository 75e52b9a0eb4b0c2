"""Data import and cleaning: bring old spreadsheet data in without losing or garbling anything."""
