"""Pipeline step: validate orders against a schema and report errors per row."""
import json
import re

SKU = re.compile(r"^[A-Z]{3}-\d{4}$")
REQUIRED = {"id": int, "sku": str, "quantity": int, "price": (int, float)}


def validate_order(order):
    errors = []
    for field, kind in REQUIRED.items():
        if field not in order:
            errors.append("missing " + field)
        elif not isinstance(order[field], kind):
            errors.append("{} has the wrong type".format(field))
    if not errors:
        if not SKU.match(order["sku"]):
            errors.append("sku must look like ABC-1234")
        if order["quantity"] <= 0:
            errors.append("quantity must be positive")
    return errors


def validate(payload):
    orders = json.loads(payload) if isinstance(payload, str) else payload
    report = {}
    for index, order in enumerate(orders):
        errors = validate_order(order)
        if errors:
            report[str(order.get("id", index))] = errors
    return {"valid": len(orders) - len(report), "invalid": report}
