"""Workbook conventions and fast writers shared by every workbook the project writes."""
