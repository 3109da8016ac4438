"""tuyagate.lan (see DESIGN.md)."""
