"""Lab 7: runtimes and deployment packages. A Python function ported to Node.js, and a function
shipped with its third-party library. Each check reads the configuration first (a quick "not yet"),
then invokes the learner's function with events the learner has not seen."""

from __future__ import annotations

from ..catalogue import register
from ..results import NotYet

NODE_PORT = "lab07-invoice-node"
PACKAGED = "lab07-orders"
SET_UP = "Run the set-up cells at the top of the lab, then the cells of this task, then this check again."


# --- what the functions are meant to compute ---------------------------------------------------

def invoice(event: dict) -> dict:
    """The Python original of the lab (INVOICE_SOURCE): what the Node.js port must answer too."""
    lines = [{"sku": item["sku"], "amount_cents": item["unit_cents"] * item["quantity"]} for item in event["items"]]
    subtotal = sum(line["amount_cents"] for line in lines)
    discount = subtotal * event.get("discount_percent", 0) // 100
    return {"customer": event["customer"], "lines": lines, "subtotal_cents": subtotal,
            "discount_cents": discount, "total_cents": subtotal - discount}


def order_summary(xml: str) -> dict:
    """What lab07-orders answers (ORDERS_SOURCE), computed with the same library it must ship."""
    import xmltodict

    order = xmltodict.parse(xml, force_list=("item",))["order"]
    items = order.get("item", [])
    return {"id": order["@id"], "customer": order["customer"], "skus": [item["@sku"] for item in items],
            "quantity": sum(int(item["@qty"]) for item in items)}


HIDDEN_INVOICES = [
    {"customer": "Grace", "items": [{"sku": "kb-1", "unit_cents": 4999, "quantity": 2},
                                    {"sku": "ms-7", "unit_cents": 1999, "quantity": 1}], "discount_percent": 15},
    {"customer": "Linus", "items": [{"sku": "cable", "unit_cents": 333, "quantity": 7}]},
    {"customer": "Ada", "items": [], "discount_percent": 50},
]
HIDDEN_ORDERS = [
    '<order id="Z-9"><customer>Edsger</customer><item sku="lamp" qty="2"/><item sku="bulb" qty="12"/></order>',
    '<order id="Q-1"><customer>Barbara</customer><item sku="desk" qty="1"/></order>',
]


# --- helpers --------------------------------------------------------------------------------------

def _configuration(probe, name: str) -> dict:
    return probe.function_or_not_yet(name, f"There is no function {name} yet.", SET_UP)


# --- the checks -------------------------------------------------------------------------------------

@register("lab07.node_port", "lab07-invoice-node answers as the Python original does")
def node_port(probe) -> str:
    configuration = _configuration(probe, NODE_PORT)
    runtime = configuration.get("Runtime") or ""
    if not runtime.startswith("nodejs"):
        raise NotYet(f"{NODE_PORT} runs on {runtime or 'no runtime'}; the task is to port it to Node.js.",
                     "Create it with Runtime='nodejs22.x' (or another nodejs runtime) and Handler='index.handler'.")
    for event in HIDDEN_INVOICES:
        result = probe.invoke(NODE_PORT, event)
        if result.function_error:
            raise NotYet(f"An invoke of {NODE_PORT} failed: {result.error_summary()}",
                         "Invoke it yourself with the sample event and read the error (Node.js calls it 'trace').")
        if result.payload != invoice(event):
            raise NotYet(f"{NODE_PORT} runs, but for another invoice its answer differs from the Python original.",
                         "Compare key by key: the same names (snake_case), whole cents, the discount rounded "
                         "down (Math.floor), and an invoice with no items or no discount_percent.")
    return f"{NODE_PORT} ({runtime}) gives the same invoices as the Python original."


@register("lab07.packaged", "lab07-orders ships with the library it imports")
def packaged(probe) -> str:
    configuration = _configuration(probe, PACKAGED)
    runtime = configuration.get("Runtime") or ""
    if not runtime.startswith("python"):
        raise NotYet(f"{PACKAGED} runs on {runtime or 'no runtime'}; the task deploys the Python code of ORDERS_SOURCE.",
                     "Create it with Runtime='python3.12' and Handler='lambda_function.handler'.")
    hint = ("Put xmltodict next to lambda_function.py at the root of the zip (package_files('xmltodict') gives "
            "its files), or publish it in a layer under python/ and attach the layer.")
    for xml in HIDDEN_ORDERS:
        result = probe.invoke(PACKAGED, {"xml": xml})
        if result.function_error:
            raise NotYet(f"An invoke of {PACKAGED} failed: {result.error_summary()}", hint)
        if result.payload != order_summary(xml):
            raise NotYet(f"{PACKAGED} runs, but its summary of another order is wrong.",
                         "Deploy ORDERS_SOURCE unchanged: only its packaging was missing.")
    layers = configuration.get("Layers") or []
    how = f"with a layer ({len(layers)} attached)" if layers else "with xmltodict vendored in its zip"
    return f"{PACKAGED} summarizes orders {how}."
