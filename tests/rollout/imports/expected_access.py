"""Import pages need data.import (core: administrators and project leads); no module-specific actions."""
EXPECTED: dict[str, set[str]] = {}
