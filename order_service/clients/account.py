"""Client of the account service (user_service / token_manager): replaces public.kite_accounts and holdings."""

from __future__ import annotations

from typing import Literal

from order_service.clients.base import Call, ServiceClient, new_idempotency_key
from order_service.clients.models import AccountPage, AccountTier, Holdings, TierSummary
from order_service.fallbacks.outbox import Deferred

Tier = Literal["hot", "warm", "cold"]


class AccountServiceClient(ServiceClient):
    """The account service (owner user_service / token_manager): tiers and holdings."""

    service = "account-service"

    async def update_account_tier(
        self, trading_account_id: str, sync_tier: Tier, reason: str | None = None
    ) -> AccountTier | Deferred:
        """Set an account's base tier; kept in the outbox if the owner is away."""
        body = {"tier": sync_tier} | ({"reason": reason} if reason else {})
        return await self._write(
            Call(
                "updateAccountTier",
                "PUT",
                f"/accounts/{trading_account_id}/tier",
                AccountTier,
                body=body,
            )
        )

    async def promote_account_to_hot_tier(
        self, trading_account_id: str, duration_minutes: int, reason: str | None = None
    ) -> AccountTier | Deferred:
        """Make an account hot for a number of minutes; kept in the outbox if the owner is away."""
        body = {"duration_minutes": duration_minutes} | ({"reason": reason} if reason else {})
        return await self._write(
            Call(
                "promoteAccountTier",
                "POST",
                f"/accounts/{trading_account_id}/promote-tier",
                AccountTier,
                body=body,
                idempotency_key=new_idempotency_key("promote"),
            )
        )

    async def get_tier_summary(self) -> TierSummary:
        """How many accounts each tier has."""
        return await self._read(Call("getTierSummary", "GET", "/accounts/tier-summary", TierSummary))

    async def list_accounts_by_tier(self, tier: Tier, *, limit: int = 100, cursor: str | None = None) -> AccountPage:
        """One page of the accounts of a tier."""
        params: dict[str, str | int] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        return await self._read(
            Call(
                "listAccountsByTier",
                "GET",
                f"/accounts/by-tier/{tier}",
                AccountPage,
                params=params,
                cache_key=(tier, limit, cursor),
            )
        )

    async def get_account_holdings(self, trading_account_id: str) -> Holdings:
        """An account's holdings (stale when the owner is away and a last answer is kept)."""
        return await self._read(
            Call(
                "getAccountHoldings",
                "GET",
                f"/accounts/{trading_account_id}/holdings",
                Holdings,
                cache_key=trading_account_id,
            )
        )
