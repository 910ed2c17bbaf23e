"""What happens when a PaymentIntent is confirmed, authenticated, captured or canceled."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from devtools.stripe_emulator.cards import DECLINE, DISPUTE, THREE_DS, TestCard, behaviour_of
from devtools.stripe_emulator.context import RequestContext
from devtools.stripe_emulator.errors import StripeError
from devtools.stripe_emulator.events import emit
from devtools.stripe_emulator.ledger import add_transaction, fee_detail
from devtools.stripe_emulator.money import card_fee
from devtools.stripe_emulator.store import new_id, now

if TYPE_CHECKING:
    from devtools.stripe_emulator.state import EmulatorState

StripeObject = dict[str, Any]

_COPIED_FROM_INTENT = (
    "application_fee_amount", "currency", "customer", "description", "on_behalf_of",
    "receipt_email", "statement_descriptor", "transfer_group",
)  # fmt: skip
_AUTH_FAILED = (
    "The provided PaymentMethod has failed authentication. You can provide payment_method_data "
    "or a new PaymentMethod to attempt to fulfill this PaymentIntent again."
)


def attempt(
    state: EmulatorState,
    ctx: RequestContext,
    intent: StripeObject,
    base_url: str,
    return_url: str | None = None,
) -> None:
    """Charge the intent's payment method: 3DS challenge, decline (raises 402) or success."""
    method = state.store.find(intent["payment_method"]) or {}
    card = behaviour_of(state.card_numbers.get(method.get("id", ""), ""))
    if card.behaviour == THREE_DS:
        _require_action(state, ctx, intent, f"{base_url}/_emulator/payment_intents", return_url)
    elif card.behaviour == DECLINE:
        _decline(state, ctx, intent, method, card)
    else:
        succeed(state, ctx, intent, method, disputed=card.behaviour == DISPUTE)


def _require_action(
    state: EmulatorState,
    ctx: RequestContext,
    intent: StripeObject,
    challenge_base: str,
    return_url: str | None,
) -> None:
    challenge = f"{challenge_base}/{intent['id']}/three_d_secure"
    if return_url:
        challenge += "?" + urlencode({"return_url": return_url})
    if return_url:
        next_action: StripeObject = {
            "type": "redirect_to_url",
            "redirect_to_url": {"return_url": return_url, "url": challenge},
        }
    else:
        next_action = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {
                "type": "three_d_secure_redirect",
                "source": new_id("src"),
                "stripe_js": challenge,
            },
        }
    intent.update(status="requires_action", next_action=next_action)
    emit(state, ctx, "payment_intent.requires_action", intent)


def _decline(
    state: EmulatorState,
    ctx: RequestContext,
    intent: StripeObject,
    method: StripeObject,
    card: TestCard,
) -> None:
    charge = new_charge(state, ctx, intent, method, captured=False)
    charge.update(
        status="failed",
        paid=False,
        failure_code=card.code,
        failure_message=card.message,
        outcome=_outcome("issuer_declined", card.decline_code),
    )
    error: StripeObject = {
        "charge": charge["id"],
        "code": card.code,
        "decline_code": card.decline_code,
        "doc_url": f"https://stripe.com/docs/error-codes/{(card.code or '').replace('_', '-')}",
        "message": card.message,
        "payment_method": copy.deepcopy(method),
        "type": "card_error",
    }
    _fail(state, ctx, intent, error, latest_charge=charge["id"])
    emit(state, ctx, "charge.failed", charge)
    emit(state, ctx, "payment_intent.payment_failed", intent)
    extra = {k: error[k] for k in ("charge", "decline_code", "payment_method")}
    raise StripeError(
        402,
        card.message or "Your card was declined.",
        error_type="card_error",
        code=card.code,
        extra={**extra, "payment_intent": intent},
    )


def _fail(
    state: EmulatorState,
    ctx: RequestContext,
    intent: StripeObject,
    error: StripeObject,
    latest_charge: str | None = None,
) -> None:
    intent.update(
        status="requires_payment_method",
        last_payment_error=error,
        next_action=None,
        payment_method=None,
    )
    if latest_charge is not None:
        intent["latest_charge"] = latest_charge


def fail_authentication(state: EmulatorState, ctx: RequestContext, intent: StripeObject) -> None:
    method = state.store.find(intent["payment_method"] or "")
    error: StripeObject = {
        "code": "payment_intent_authentication_failure",
        "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
        "message": _AUTH_FAILED,
        "payment_method": copy.deepcopy(method),
        "type": "invalid_request_error",
    }
    _fail(state, ctx, intent, error)
    emit(state, ctx, "payment_intent.payment_failed", intent)


def succeed(
    state: EmulatorState,
    ctx: RequestContext,
    intent: StripeObject,
    method: StripeObject,
    *,
    disputed: bool = False,
) -> None:
    manual = intent["capture_method"] == "manual"
    charge = new_charge(state, ctx, intent, method, captured=not manual)
    intent.update(latest_charge=charge["id"], last_payment_error=None, next_action=None)
    if manual:
        intent.update(status="requires_capture", amount_capturable=intent["amount"])
        emit(state, ctx, "charge.succeeded", charge)
        emit(state, ctx, "payment_intent.amount_capturable_updated", intent)
        return
    settle(state, ctx, intent, charge, intent["amount"])
    intent.update(status="succeeded", amount_received=intent["amount"])
    emit(state, ctx, "charge.succeeded", charge)
    emit(state, ctx, "payment_intent.succeeded", intent)
    if disputed:
        from devtools.stripe_emulator.resources.disputes import open_dispute

        open_dispute(state, charge, "fraudulent")


def capture(
    state: EmulatorState, ctx: RequestContext, intent: StripeObject, amount: int
) -> StripeObject:
    charge = state.store.find(intent["latest_charge"]) or {}
    charge.update(captured=True, amount_captured=amount)
    settle(state, ctx, intent, charge, amount)
    intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
    emit(state, ctx, "charge.captured", charge)
    emit(state, ctx, "payment_intent.succeeded", intent)
    return intent


def settle(
    state: EmulatorState,
    ctx: RequestContext,
    intent: StripeObject,
    charge: StripeObject,
    amount: int,
) -> None:
    """Book a captured amount: the charge's balance transaction, then Connect's legs."""
    from devtools.stripe_emulator.resources import application_fees, transfers

    currency = intent["currency"]
    details = [fee_detail(card_fee(amount, currency), currency)]
    app_fee = intent.get("application_fee_amount")
    direct = ctx.account is not None
    if direct and app_fee:
        details.append(fee_detail(app_fee, currency, "application_fee"))
    transaction = add_transaction(
        state, ctx.account, amount=amount, currency=currency, kind="charge",
        source=charge["id"], fee_details=details,
    )  # fmt: skip
    charge["balance_transaction"] = transaction["id"]
    destination = (intent.get("transfer_data") or {}).get("destination")
    if destination:
        transfers.destination_transfer(state, ctx, intent, charge, amount)
    if app_fee:
        application_fees.collect(state, ctx, charge, app_fee, ctx.account or destination)


def new_charge(
    state: EmulatorState,
    ctx: RequestContext,
    intent: StripeObject,
    method: StripeObject,
    *,
    captured: bool,
) -> StripeObject:
    card = dict(method.get("card") or {})
    charge: StripeObject = {
        "id": new_id("ch"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if captured else 0,
        "amount_refunded": 0,
        "application_fee": None,
        "balance_transaction": None,
        "billing_details": method.get("billing_details"),
        "calculated_statement_descriptor": "EMULATOR",
        "captured": captured,
        "created": now(),
        "disputed": False,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "outcome": _outcome("authorized", None),
        "paid": True,
        "payment_method": method.get("id"),
        "payment_method_details": {"card": _card_details(card), "type": "card"},
        "receipt_url": None,
        "refunded": False,
        "source_transfer": None,
        "status": "succeeded",
        "transfer": None,
        **_copied_from(intent),
    }
    return state.store.add(charge, ctx.account)


def _copied_from(intent: StripeObject) -> StripeObject:
    """The charge fields Stripe copies from its PaymentIntent (metadata included)."""
    fields = {name: intent.get(name) for name in _COPIED_FROM_INTENT}
    fields["metadata"] = dict(intent.get("metadata") or {})
    fields["payment_intent"] = intent["id"]
    fields["transfer_data"] = copy.deepcopy(intent.get("transfer_data"))
    return fields


def _card_details(card: StripeObject) -> StripeObject:
    keys = ("brand", "country", "exp_month", "exp_year", "fingerprint", "funding", "last4")
    details = {k: card.get(k) for k in keys}
    details["network"] = card.get("brand")
    return details


def _outcome(kind: str, reason: str | None) -> StripeObject:
    approved = kind == "authorized"
    return {
        "network_status": "approved_by_network" if approved else "declined_by_network",
        "reason": reason,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": "Payment complete." if approved else "The bank declined the payment.",
        "type": kind,
    }
