"""Renderers: Report -> terminal text, Report -> contract JSON. Pure."""
