"""Tools of the shop assistant bot: orders, shipments, products and a cart.

Everything runs offline against an in-memory SQLite database built from ``shop.sql``
(the ``seed`` setting) when the bot starts. The handlers show the framework's range:
sync handlers (run in the thread pool) for the database, async ones for the cart and
the carrier's tracking service, a ``ToolError`` the replica can explain, a tool that
asks for its context, and a perception tool that feeds the LLM's context silently.
The date and time tools come from the ``cvibot-clock`` plugin (``plugins/``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from cvibot import ToolContext, ToolError, hookimpl, tool

_HERE = Path(__file__).resolve().parent
_lock = threading.Lock()
_db: sqlite3.Connection | None = None
# conversation_id -> sku -> quantity
_carts: defaultdict[str, dict[str, int]] = defaultdict(dict)


@hookimpl
def cvibot_startup(settings: Mapping[str, Any]) -> None:
    """Build the database from the seed file named in the plugin's settings."""
    global _db
    seed = _HERE / str(settings.get("seed", "shop.sql"))
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.executescript(seed.read_text(encoding="utf-8"))
    _db = db


@hookimpl
def cvibot_shutdown() -> None:
    global _db
    if _db is not None:
        _db.close()
        _db = None
    _carts.clear()


def _query(sql: str, *params: object) -> list[sqlite3.Row]:
    if _db is None:
        raise RuntimeError("the shop database is not open (cvibot_startup did not run)")
    with _lock:  # one connection shared by the thread pool's workers
        return _db.execute(sql, params).fetchall()


def _money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


@tool(timeout=3)
def lookup_order(order_id: str) -> dict[str, Any]:
    """Look up an order: its status, items and tracking number.

    Args:
        order_id: The order number the customer reads out, for example "A1001".
    """
    key = order_id.strip().upper()
    rows = _query("SELECT * FROM orders WHERE order_id = ?", key)
    if not rows:
        raise ToolError(f"There is no order {key}. Ask the customer to check the order number.")
    order = rows[0]
    items = _query(
        "SELECT p.name, i.quantity FROM order_items i JOIN products p USING (sku) "
        "WHERE i.order_id = ?",
        key,
    )
    return {
        "order_id": key,
        "status": order["status"],
        "placed_on": order["placed_on"],
        "items": [f"{r['quantity']} × {r['name']}" for r in items],
        "tracking_number": order["tracking_number"],
    }


@tool(timeout=1)
async def track_shipment(tracking_number: str) -> str:
    """Ask the carrier where a shipment is.

    Args:
        tracking_number: The tracking number from the order, for example "1Z999AA10123456784".
    """
    rows = _query("SELECT * FROM shipments WHERE tracking_number = ?", tracking_number.strip())
    if not rows:
        raise ToolError(f"The carriers know no shipment {tracking_number}.")
    shipment = rows[0]
    # The carrier's tracking service is simulated by its recorded response time; a slow
    # one runs into this tool's 1-second timeout, as a real outage would.
    await asyncio.sleep(shipment["carrier_latency_ms"] / 1000)
    return (
        f"{shipment['carrier']} shipment {tracking_number} is {shipment['status']}, last seen in "
        f"{shipment['last_location']}, expected on {shipment['estimated_delivery']}."
    )


@tool(cancel_on_interrupt=True)
def search_products(
    query: str, max_results: Annotated[int, Field(ge=1, le=10)] = 3
) -> list[dict[str, Any]]:
    """Search the catalogue by words in a product's name or description.

    Args:
        query: What the customer is looking for, for example "trail shoes".
        max_results: How many products to return at most.
    """
    words = [w.rstrip("s") for w in query.lower().split() if len(w) > 2] or [query.lower()]
    text = "lower(name || ' ' || description)"
    # Rank by how many of the words match, then in-stock first.
    score = " + ".join(f"({text} LIKE ?)" for _ in words)
    rows = _query(
        f"SELECT *, {score} AS score FROM products WHERE score > 0 "
        "ORDER BY score DESC, stock = 0, name LIMIT ?",
        *[f"%{w}%" for w in words],
        max_results,
    )
    return [
        {
            "sku": r["sku"],
            "name": r["name"],
            "price": _money(r["price_cents"]),
            "in_stock": r["stock"] > 0,
        }
        for r in rows
    ]


def _cart_lines(cart: Mapping[str, int]) -> tuple[list[str], int]:
    lines, total = [], 0
    for sku, quantity in cart.items():
        product = _query("SELECT name, price_cents FROM products WHERE sku = ?", sku)[0]
        total += product["price_cents"] * quantity
        lines.append(f"{quantity} × {product['name']}")
    return lines, total


@tool
async def add_to_cart(
    sku: str, ctx: ToolContext, quantity: Annotated[int, Field(ge=1, le=20)] = 1
) -> str:
    """Put a product in the customer's cart.

    Args:
        sku: The product's SKU from search_products, for example "TR-3".
        quantity: How many to add.
    """
    rows = _query("SELECT name, stock FROM products WHERE sku = ?", sku.strip().upper())
    if not rows:
        raise ToolError(f"There is no product with SKU {sku}.")
    product = rows[0]
    cart = _carts[ctx.conversation_id or ""]
    wanted = cart.get(sku.upper(), 0) + quantity
    if wanted > product["stock"]:
        raise ToolError(f"Only {product['stock']} of {product['name']} are in stock.")
    cart[sku.upper()] = wanted
    lines, total = _cart_lines(cart)
    ctx.log.info("cart updated", sku=sku.upper(), quantity=wanted)
    return (
        f"Added {quantity} × {product['name']}. "
        f"The cart holds {', '.join(lines)}; total {_money(total)}."
    )


@tool
async def view_cart(ctx: ToolContext) -> str:
    """Tell what is in the customer's cart and what it costs."""
    cart = _carts.get(ctx.conversation_id or "", {})
    if not cart:
        return "The cart is empty."
    lines, total = _cart_lines(cart)
    return f"The cart holds {', '.join(lines)}; total {_money(total)}."


@tool(origin="vision", reply="append_context")
def product_shown(product_name: str) -> str:
    """The customer holds a product up to the camera.

    Args:
        product_name: What the product looks like, for example "a blue water bottle".
    """
    return f"The customer is showing {product_name} on camera."


@hookimpl
def cvibot_session_ended(session: Any) -> None:
    _carts.pop(session.conversation_id or "", None)
