"""Data contracts of the hazard network: vocabularies, header aliases and pandera schemas."""
