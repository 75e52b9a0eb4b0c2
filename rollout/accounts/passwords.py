"""Password hashing (Argon2id) and the password policy."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 8
MAX_LENGTH = 128

# The most common passwords of public breach lists, plus local favourites.
COMMON_PASSWORDS = frozenset("""
123456 123456789 12345678 password qwerty123 qwerty1 111111 12345 1234567 1234567890 000000
abc123 password1 iloveyou 1q2w3e4r 1q2w3e4r5t qwertyuiop 123123 123321 654321 666666 888888
88888888 987654321 asdfghjkl zxcvbnm 11111111 00000000 12341234 a1234567 a12345678 aa123456
abcd1234 password123 admin123 administrator welcome1 welcome123 letmein1 sunshine princess
football monkey123 dragon123 baseball passw0rd p@ssw0rd p@ssword qwer1234 1qaz2wsx 1qazxsw2
zaq12wsx woaini1314 woaini520 5201314 52013141314 qq123456 wang1234 li123456 zhang123
changeme changeme1 default1 test1234 test12345 trustno1 superman batman123 starwars
computer internet shanghai beijing88 china123 huawei123 rollout123 iloveyou1 q1w2e3r4
""".split())


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(time_cost=config["ARGON2_TIME_COST"], memory_cost=config["ARGON2_MEMORY_COST"],
                          parallelism=config["ARGON2_PARALLELISM"])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return str(_l("Use at least %(n)d characters.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        return str(_l("Use at most %(n)d characters.", n=MAX_LENGTH))
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        return str(_l("This password is too common; choose another."))
    if len(set(password)) <= 2:
        return str(_l("Use more than two different characters."))
    if username and lowered == username.lower():
        return str(_l("The password must not be your username."))
    return None
