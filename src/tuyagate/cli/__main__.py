"""``python -m tuyagate.cli``."""

from tuyagate.cli.main import main

main()
