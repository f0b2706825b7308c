"""The dashboard\x27s pages, one module each (imported by Dash\x27s use_pages)."""
