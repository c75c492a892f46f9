"""Where the command line and ``memlane serve`` get their configuration from.

A JSON file holding the same dict ``AsyncMemory(config)`` accepts, named by ``--config``
or by the ``MEMLANE_CONFIG`` environment variable; neither means AsyncMemory's defaults.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from memlane.config import MemoryConfig
from memlane.errors import ValidationError

__all__ = ["CONFIG_ENV", "load_config"]

#: Environment variable naming the config file when ``--config`` is not given.
CONFIG_ENV = "MEMLANE_CONFIG"


def load_config(path: str | os.PathLike[str] | None = None) -> MemoryConfig:
    """Reads a memlane config file.

    Args:
        path: the JSON file; None falls back to ``$MEMLANE_CONFIG``, and with neither the
            defaults are used (embedded store in ``$MEMLANE_DIR`` or ``~/.memlane``).

    Returns:
        The checked config.

    Raises:
        ValidationError: the file cannot be read, is not a JSON object, or is not a valid
            config (the message names the file and the offending key).

    Example:
        >>> load_config("memlane.json")  # {"vector_store": {"provider": "embedded", ...}}
    """
    if path is None:
        path = os.environ.get(CONFIG_ENV) or None
    if path is None:
        return MemoryConfig()
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValidationError(
            f"cannot read the config file {str(source)!r}: {err.strerror}"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValidationError(f"the config file {str(source)!r} is not JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValidationError(
            f"the config file {str(source)!r} must hold a JSON object, got {type(data).__name__}"
        )
    try:
        return MemoryConfig.from_dict(data)
    except ValidationError as err:
        raise ValidationError(f"the config file {str(source)!r}: {err}") from None
