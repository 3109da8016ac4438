"""tuyagate.gateway (see DESIGN.md)."""
