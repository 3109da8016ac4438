"""tuyagate.cloud (see DESIGN.md)."""
