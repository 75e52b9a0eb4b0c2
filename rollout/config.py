"""Settings read from the environment; one place so a deployment is a set of variables."""
import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class ConfigError(RuntimeError):
    """The environment does not describe a runnable deployment."""


def instance_path() -> Path:
    return Path(os.environ.get("ROLLOUT_INSTANCE", PROJECT_ROOT / "instance")).resolve()


def _secret_key(is_production: bool, folder: Path) -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if is_production:
        raise ConfigError("SECRET_KEY must be set when ROLLOUT_ENV=production.")
    # Development: generate once so sessions survive restarts and all workers agree.
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def load_config() -> dict:
    """Build the Flask config mapping from environment variables."""
    folder = instance_path()
    is_production = os.environ.get("ROLLOUT_ENV", "development") == "production"
    folder.mkdir(parents=True, exist_ok=True)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'rollout.db'}"
    return {
        "ENV_NAME": "production" if is_production else "development",
        "SECRET_KEY": _secret_key(is_production, folder),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 64 * 1024 * 1024),
        # Allocations between the garbage collector's young passes (Python's own is 700; 0 keeps it).
        "GC_GEN0_THRESHOLD": _int("GC_GEN0_THRESHOLD", 50_000),
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER", str(folder / "uploads")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", is_production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", is_production),
        "WTF_CSRF_TIME_LIMIT": _int("WTF_CSRF_TIME_LIMIT", 8 * 3600),
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "DISPLAY_TIMEZONE": os.environ.get("DISPLAY_TIMEZONE", "Asia/Shanghai"),
        "COMPANY_NAME": os.environ.get("COMPANY_NAME", "Rollout Desk"),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Login throttling (counted in the database so every instance agrees).
        # An account's failures from one address; from all addresses; any accounts' from one address.
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": _int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5),
        "LOGIN_MAX_FAILURES_PER_ACCOUNT_ALL_ADDRESSES": _int("LOGIN_MAX_FAILURES_PER_ACCOUNT_ALL_ADDRESSES", 50),
        "LOGIN_MAX_FAILURES_PER_IP": _int("LOGIN_MAX_FAILURES_PER_IP", 100),
        "LOGIN_FAILURE_WINDOW_MINUTES": _int("LOGIN_FAILURE_WINDOW_MINUTES", 15),
        # Argon2id cost; the defaults follow the argon2-cffi (RFC 9106 low-memory) profile.
        "ARGON2_TIME_COST": _int("ARGON2_TIME_COST", 3),
        "ARGON2_MEMORY_COST": _int("ARGON2_MEMORY_COST", 65536),
        "ARGON2_PARALLELISM": _int("ARGON2_PARALLELISM", 4),
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": _int("SMTP_PORT", 25),
        "SMTP_USER": os.environ.get("SMTP_USER", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": _bool("SMTP_STARTTLS", False),
        "SMTP_SENDER": os.environ.get("SMTP_SENDER", "rollout@localhost"),
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
        "PROXY_HOPS": _int("PROXY_HOPS", 0),
    }
