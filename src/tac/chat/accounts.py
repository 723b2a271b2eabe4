"""Sign up, register and authenticate people; find them by id or username."""

from __future__ import annotations

import asyncio
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from tac.chat import Chat
from tac.chat.errors import Conflict, Invalid, NotFound, RateLimited, Unauthenticated
from tac.chat.rooms import ensure_general, join_room
from tac.chat.sessions import end_sessions
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
    username = _check_username(chat, username.strip())
    _check_password(chat, password)
    display_name = " ".join(display_name.split()) or username
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


async def authenticate(chat: Chat, username: str, password: str) -> User:
    """The user with these credentials; one error for unknown user and wrong password."""
    key = username.strip().lower()
    wait = await chat.login_limiter.retry_after(key)
    if wait > 0:
        raise RateLimited(
            f"Too many sign-in attempts for this username: try again in {wait:.0f} s.",
            retry_after=wait,
        )
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
    chat: Chat, user: User, current: str, new: str, *, keep_session: str = ""
) -> int:
    """Set a new password, given the current one; every other session of `user` ends.

    `keep_session` is the id of the session asking (it stays signed in; "" for an API
    token). The current password is checked under the sign-in limits, so a stolen session
    cannot guess it at speed. Returns how many sessions ended.
    """
    wait = await chat.login_limiter.retry_after(user.username_key)
    if wait > 0:
        raise RateLimited(
            f"Too many sign-in attempts for this username: try again in {wait:.0f} s.",
            retry_after=wait,
        )
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
