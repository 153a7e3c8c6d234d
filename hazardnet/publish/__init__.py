"""Publish: what people read — consolidated register, bulletins, quarterly summaries, warnings, template."""
