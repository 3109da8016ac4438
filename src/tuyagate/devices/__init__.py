"""tuyagate.devices (see DESIGN.md)."""
