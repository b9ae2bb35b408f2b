"""The pure core: plain functions over plain data. No network, no clock, no environment (see STYLE.md)."""
