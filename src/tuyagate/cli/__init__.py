"""The ``tuyagate`` command line."""
