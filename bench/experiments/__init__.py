"""Experiments that estimate what a change would buy before anyone makes it (not product code)."""
