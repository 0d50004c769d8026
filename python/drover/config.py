"""Where the coordinator is and who we are: the same places the `drover` CLI looks, so a user who
ran `drover login` needs nothing more."""
import json
import os
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

DEFAULT_SERVER = "http://127.0.0.1:8686"


def config_path() -> Path:
    """`DROVER_CONFIG`, else `$XDG_CONFIG_HOME/drover/config.json` (`~/.config/drover/config.json`)."""
    explicit = os.environ.get("DROVER_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "drover" / "config.json"


def load_config() -> Dict[str, Any]:
    try:
        with open(config_path(), encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def resolve_session(server: Optional[str], token: Optional[str]) -> Tuple[str, Optional[str]]:
    """The coordinator URL and token, in the CLI's order: argument, environment
    (`DROVER_SERVER`, `DROVER_TOKEN`), the CLI's config file, then the default URL. Only what
    is None is looked up: an empty token given on purpose (a signed-out add-on) stays empty."""
    config = load_config() if server is None or token is None else {}
    url = server if server is not None else os.environ.get("DROVER_SERVER") or config.get("server") or DEFAULT_SERVER
    tok = token if token is not None else os.environ.get("DROVER_TOKEN") or config.get("token")
    return str(url).rstrip("/"), (str(tok) if tok else None)
