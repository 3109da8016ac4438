"""tuyagate.flashed (see DESIGN.md)."""
