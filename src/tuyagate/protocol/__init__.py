"""tuyagate.protocol (see DESIGN.md)."""
