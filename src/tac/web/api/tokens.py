"""API tokens: issue one for a username and password, list and revoke your own."""

from __future__ import annotations

from quart_schema import validate_request, validate_response

from tac.chat import accounts
from tac.chat import tokens as token_cases
from tac.web import chat
from tac.web.api import bp, errors, no_content, open_route
from tac.web.api.auth import api_user
from tac.web.api.schemas import TokenCreate, TokenCreated, TokenList, TokenOut
from tac.web.auth import client_address


@bp.post("/tokens")
@open_route
@validate_request(TokenCreate)
@validate_response(TokenCreated, 201)
@errors(400, 401, 409, 422, 429)
async def create_token(data: TokenCreate) -> tuple[TokenCreated, int]:
    """Issue a bearer token for a username and password.

    The token is in the answer this once; only its hash is kept.
    """
    user = await accounts.authenticate(chat(), data.username, data.password, client_address())
    token, secret = await token_cases.issue_token(chat(), user, data.name)
    return TokenCreated(**TokenOut.of(token).model_dump(), token=secret), 201


@bp.get("/tokens")
@validate_response(TokenList)
@errors(401)
async def list_tokens() -> TokenList:
    """Your tokens (never their secrets)."""
    user = await api_user()
    return TokenList(tokens=[TokenOut.of(t) for t in await token_cases.tokens_of(user)])


@bp.delete("/tokens/<token_id>")
@no_content
@errors(401, 403, 404)
async def revoke_token(token_id: str) -> tuple[str, int]:
    """Revoke one of your tokens; it stops working at once."""
    user = await api_user()
    await token_cases.revoke_token(user, token_id, chat=chat())
    return "", 204
