"""Sign up, register and authenticate people; find them by id or username."""

from __future__ import annotations

import asyncio
import ipaddress
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from tac.chat import Chat
from tac.chat.errors import Conflict, Invalid, NotFound, RateLimited, Unauthenticated
from tac.chat.rooms import ensure_general, join_room
from tac.chat.sessions import end_sessions
from tac.chat.text import one_line, valid_unicode
from tac.models import User

USERNAME_CHARS = re.compile(r"^[A-Za-z0-9_.-]+$")
_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
# Verified when the username is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("not a real password")


def _check_username(chat: Chat, username: str) -> str:
    s = chat.settings
    if not s.username_min_chars <= len(username) <= s.username_max_chars:
        raise Invalid(
            f"Username must be {s.username_min_chars} to {s.username_max_chars} characters.",
            field="username",
        )
    if not USERNAME_CHARS.match(username):
        raise Invalid("Username may use only letters, digits, '.', '_' and '-'.", field="username")
    return username


def _check_password(chat: Chat, password: str) -> str:
    s = chat.settings
    if not s.password_min_chars <= len(password) <= s.password_max_chars:
        raise Invalid(
            f"Password must be {s.password_min_chars} to {s.password_max_chars} characters.",
            field="password",
        )
    return password


async def sign_up(chat: Chat, username: str, password: str, display_name: str = "") -> User:
    """A new person, already in #general like everyone."""
    user = await register(chat, username, password, display_name)
    await join_room(user, await ensure_general())
    return user


async def register(chat: Chat, username: str, password: str, display_name: str = "") -> User:
    """A new account, in no room yet; most callers want `sign_up`."""
    username = _check_username(chat, valid_unicode(username, "username").strip())
    _check_password(chat, valid_unicode(password, "password"))
    display_name = one_line(display_name, "display_name") or username
    if len(display_name) > chat.settings.display_name_max_chars:
        raise Invalid(
            f"Display name may have at most {chat.settings.display_name_max_chars} characters.",
            field="display_name",
        )
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    user = User(
        username=username,
        username_key=username.lower(),
        display_name=display_name,
        password_hash=password_hash,
    )
    try:
        await user.insert()
    except DuplicateKeyError:
        raise Conflict("That username is taken.", field="username") from None
    return user


def address_key(address: str) -> str:
    """Whom a sign-in limit counts: an IPv4 address, or an IPv6 address's /64 (one
    household or server usually holds a whole /64, and can pick any address in it)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


async def check_sign_in_limits(chat: Chat, username: str, address: str) -> None:
    """Count one sign-in attempt; raise RateLimited when one of the three limits is reached.

    Per address (any usernames), then per (username, address), then a high ceiling per
    username from all addresses: a guesser is stopped at their own address, and the owner,
    signing in from another, is not locked out unless very many addresses guess at once.
    Without a known address (no peer address, as on a Unix socket without a trusted proxy
    header) the per-(username, address) limit counts per username alone.
    """
    key = username.strip().lower()[: chat.settings.username_max_chars + 1]
    where = address_key(address) if address else ""
    if where:
        wait = await chat.login_address_limiter.retry_after(where)
        if wait > 0:
            raise RateLimited(
                f"Too many sign-in attempts from your address: try again in {wait:.0f} s.",
                retry_after=wait,
            )
    wait = await chat.login_limiter.retry_after(f"{key} {where}" if where else key)
    if wait > 0:
        raise RateLimited(
            f"Too many sign-in attempts for this username: try again in {wait:.0f} s.",
            retry_after=wait,
        )
    wait = await chat.login_username_limiter.retry_after(key)
    if wait > 0:
        raise RateLimited(
            "Too many sign-in attempts for this username from many addresses: "
            f"try again in {wait:.0f} s.",
            retry_after=wait,
        )


async def authenticate(chat: Chat, username: str, password: str, address: str = "") -> User:
    """The user with these credentials; one error for unknown user and wrong password.

    `address` is the client's (see `check_sign_in_limits`).
    """
    valid_unicode(username, "username")
    valid_unicode(password, "password")  # argon2 hashes UTF-8
    await check_sign_in_limits(chat, username, address)
    key = username.strip().lower()
    user = await User.find_one(User.username_key == key)
    stored = user.password_hash if user else _DUMMY_HASH
    try:
        await asyncio.to_thread(_hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise Unauthenticated("Wrong username or password.")
    return user


async def change_password(
    chat: Chat, user: User, current: str, new: str, *, keep_session: str = "", address: str = ""
) -> int:
    """Set a new password, given the current one; every other session of `user` ends.

    `keep_session` is the id of the session asking (it stays signed in; "" for an API
    token). The current password is checked under the sign-in limits, so a stolen session
    cannot guess it at speed. Returns how many sessions ended.
    """
    valid_unicode(current, "current_password")
    valid_unicode(new, "new_password")
    await check_sign_in_limits(chat, user.username, address)
    try:
        await asyncio.to_thread(_hasher.verify, user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise Invalid("The current password is wrong.", field="current_password") from None
    try:
        _check_password(chat, new)
    except Invalid as e:
        raise Invalid(e.message, field="new_password") from None
    password_hash = await asyncio.to_thread(_hasher.hash, new)
    await User.find_one(User.id == user.id).update({"$set": {"password_hash": password_hash}})
    user.password_hash = password_hash
    return await end_sessions(chat, user, keep=keep_session)


async def user_by_id(user_id: str | PydanticObjectId) -> User:
    try:
        user = await User.get(PydanticObjectId(user_id))
    except Exception:
        user = None
    if user is None:
        raise NotFound("No such user.")
    return user


async def user_by_username(username: str) -> User:
    user = await User.find_one(User.username_key == username.lower())
    if user is None:
        raise NotFound("No such user.")
    return user
