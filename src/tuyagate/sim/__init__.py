"""tuyagate.sim (see DESIGN.md)."""
