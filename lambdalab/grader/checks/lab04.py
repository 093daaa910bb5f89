"""Lab 4: limits. Five functions each break one of Lambda's limits; each check looks at the fix.

Every check first reads the function's configuration (fast, and enough to say "not yet" for an
unfixed function without waiting for it), then invokes it with events the learner has not seen.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from ..catalogue import register
from ..results import NotYet

SLOW_REPORT = "lab04-slow-report"
IMAGE_RESIZER = "lab04-image-resizer"
BIG_RESPONSE = "lab04-big-response"
CONFIG_HEAVY = "lab04-config-heavy"
RUNAWAY = "lab04-runaway"

SET_UP = "Run the set-up cells at the top of the lab (they create the lab04- functions), then this check again."


# --- what the functions are meant to compute (the lab's set-up cell uses the same rules) -------

def _report_totals(sales: list[dict]) -> dict:
    totals: dict[str, int] = {}
    for sale in sales:
        totals[sale["region"]] = totals.get(sale["region"], 0) + sale["amount"]
    return {"regions": totals, "total": sum(totals.values())}


def _thumbnail(width: int, height: int, size: int) -> list[int]:
    scale = size / max(width, height)
    return [max(1, round(width * scale)), max(1, round(height * scale))]


def _export_csv(report: str, rows: int) -> bytes:
    lines = ["id,report,value\n"] + [f"{i},{report},{(i * 7919) % 100003}\n" for i in range(rows)]
    return "".join(lines).encode()


PRICES = {f"SKU-{i:04d}": 100 + (i * 37) % 900 for i in range(400)}
CONFIG = {"currency": "EUR", "tax_percent": 20, "prices": PRICES}


def _order_total(items: list[dict]) -> dict:
    net = sum(PRICES[item["sku"]] * item["qty"] for item in items)
    tax = net * CONFIG["tax_percent"] // 100
    return {"net": net, "tax": tax, "total": net + tax, "currency": CONFIG["currency"]}


# --- helpers ---------------------------------------------------------------------------------

def _configuration(probe, name: str) -> dict:
    return probe.function_or_not_yet(name, f"There is no function {name}.", SET_UP)


def _invoke_ok(probe, name: str, event: dict, hint: str):
    result = probe.invoke(name, event)
    if result.function_error:
        raise NotYet(f"An invoke of {name} failed: {result.error_summary()}", hint)
    return result


# --- the checks ------------------------------------------------------------------------------

@register("lab04.slow_report", "lab04-slow-report finishes within its timeout")
def slow_report(probe) -> str:
    configuration = _configuration(probe, SLOW_REPORT)
    timeout = configuration["Timeout"]
    if timeout < 3:
        raise NotYet(f"{SLOW_REPORT} still has a timeout of {timeout} s, and its work takes about 2 s.",
                     "Raise the timeout with lam.update_function_configuration(FunctionName=..., Timeout=...).")
    if timeout > 60:
        raise NotYet(f"A timeout of {timeout} s is far more than 2 s of work needs: a stuck run would be billed "
                     "for all of it.", "Give the work some headroom, but keep the timeout at 60 s or less.")
    sales = [{"region": "north", "amount": 1250}, {"region": "south", "amount": 830},
             {"region": "east", "amount": 410}, {"region": "north", "amount": 95},
             {"region": "west", "amount": 2999}, {"region": "south", "amount": 1}]
    result = _invoke_ok(probe, SLOW_REPORT, {"sales": sales},
                        "Invoke it yourself and read the REPORT line: how long does it run?")
    if result.payload != _report_totals(sales):
        raise NotYet(f"{SLOW_REPORT} runs, but its totals are wrong for another set of sales.",
                     "Only the timeout needed to change: keep the code that sums the sales per region.")
    return f"{SLOW_REPORT} finishes with a {timeout} s timeout and gives the right totals."


@register("lab04.image_resizer", "lab04-image-resizer has the memory it needs")
def image_resizer(probe) -> str:
    configuration = _configuration(probe, IMAGE_RESIZER)
    memory = configuration["MemorySize"]
    if memory < 256:
        raise NotYet(f"{IMAGE_RESIZER} still has {memory} MB, and one decoded image takes about 190 MB.",
                     "Raise MemorySize with lam.update_function_configuration (the lab suggests 512 MB).")
    if memory > 2048:
        raise NotYet(f"{memory} MB is far more than a 190 MB image needs; memory is billed per MB and millisecond.",
                     "Choose 2,048 MB or less: 512 MB is plenty.")
    hint = "Read the REPORT line of a failed invoke: is Max Memory Used at the Memory Size? Then give it more."
    for width, height, size in ((6000, 8000, 320), (1024, 768, 128)):
        result = _invoke_ok(probe, IMAGE_RESIZER, {"width": width, "height": height, "thumbnail": size}, hint)
        answer = result.payload if isinstance(result.payload, dict) else {}
        if answer.get("thumbnail") != _thumbnail(width, height, size):
            raise NotYet(f"{IMAGE_RESIZER} runs, but its thumbnail size is wrong for another image.",
                         "Only the memory needed to change: keep the function's code as it was.")
    return f"{IMAGE_RESIZER} resizes big images with {memory} MB."


@register("lab04.big_response", "lab04-big-response returns a key, not 7 MB")
def big_response(probe) -> str:
    configuration = _configuration(probe, BIG_RESPONSE)
    bucket = (configuration.get("Environment") or {}).get("Variables", {}).get("EXPORT_BUCKET")
    if not bucket:
        raise NotYet(f"{BIG_RESPONSE} has no EXPORT_BUCKET environment variable any more.",
                     "Run the set-up cells again: they set EXPORT_BUCKET to the lab's bucket.")
    report, rows = "q3-audit", 320_000
    hint = ("The function must put the CSV in the bucket named by EXPORT_BUCKET, under exports/<report>.csv, "
            'and return {"bucket": ..., "key": ...}.')
    result = _invoke_ok(probe, BIG_RESPONSE, {"report": report, "rows": rows}, hint)
    if len(result.raw) > 64 * 1024:
        raise NotYet(f"{BIG_RESPONSE} still answers with {len(result.raw):,} bytes.", hint)
    answer = result.payload if isinstance(result.payload, dict) else {}
    key = f"exports/{report}.csv"
    if answer.get("bucket") != bucket or answer.get("key") != key:
        raise NotYet(f"{BIG_RESPONSE} answers, but not with the bucket named by EXPORT_BUCKET and the key "
                     "exports/<report>.csv.", hint)
    s3 = probe.client("s3")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise NotYet(f"The answer names the right key, but there is no such object in {bucket}.", hint) from None
    if body != _export_csv(report, rows):
        raise NotYet("The object is there, but it is not the whole CSV the function used to return.",
                     "Upload exactly the text the original handler returned (header line included).")
    return f"{BIG_RESPONSE} writes {len(body) / 2**20:.1f} MB to S3 and answers with {len(result.raw)} bytes."


@register("lab04.config_heavy", "lab04-config-heavy reads its configuration from outside the environment")
def config_heavy(probe) -> str:
    configuration = _configuration(probe, CONFIG_HEAVY)
    variables = (configuration.get("Environment") or {}).get("Variables", {})
    size = sum(len(key.encode()) + len(str(value).encode()) for key, value in variables.items())
    if size > 4096:  # AWS refuses this; a check that says so costs nothing
        raise NotYet(f"{CONFIG_HEAVY} has {size} bytes of environment variables, more than 4 KB.",
                     "Move the configuration into config.json in the deployment package.")
    hint = ("Ship the configuration as config.json in the zip (update_function_code with both files) "
            "and have the code read it once, outside the handler.")
    orders = [
        [{"sku": "SKU-0007", "qty": 3}, {"sku": "SKU-0399", "qty": 1}, {"sku": "SKU-0250", "qty": 12}],
        [{"sku": "SKU-0123", "qty": 2}],
    ]
    for items in orders:
        result = _invoke_ok(probe, CONFIG_HEAVY, {"items": items}, hint)
        if result.payload != _order_total(items):
            raise NotYet(f"{CONFIG_HEAVY} runs, but its total is wrong for another order.",
                         "Use the whole CONFIG from the set-up cell (every price, tax_percent, currency), unchanged.")
    return f"{CONFIG_HEAVY} prices orders right, with its configuration outside its environment variables."


@register("lab04.runaway", "lab04-runaway is capped by reserved concurrency")
def runaway(probe) -> str:
    _configuration(probe, RUNAWAY)
    lam = probe.client("lambda")
    reserved = lam.get_function_concurrency(FunctionName=RUNAWAY).get("ReservedConcurrentExecutions")
    hint = "lam.put_function_concurrency(FunctionName=..., ReservedConcurrentExecutions=2)"
    if reserved is None:
        raise NotYet(f"{RUNAWAY} has no reserved concurrency yet: a burst could take the whole account's.", hint)
    if reserved == 0:
        raise NotYet(f"{RUNAWAY} has 0 reserved: that switches it off, every invoke is throttled.", hint)
    if reserved != 2:
        raise NotYet(f"{RUNAWAY} has {reserved} reserved; the task asks for a cap of 2.", hint)

    def call(job: int):
        try:
            response = lam.invoke(FunctionName=RUNAWAY, Payload=json.dumps({"job": job}))
            answer = json.loads(response["Payload"].read() or b"null")
            return "ran", response.get("FunctionError"), answer == {"done": job}
        except lam.exceptions.TooManyRequestsException as err:
            return "throttled", err.response.get("Reason"), None

    with ThreadPoolExecutor(3) as pool:
        outcomes = list(pool.map(call, range(3)))
    ran = [o for o in outcomes if o[0] == "ran"]
    throttled = [o for o in outcomes if o[0] == "throttled"]
    restore = "Only the concurrency needed to change: run the set-up cells again to restore its code."
    if any(error is not None or not right for _, error, right in ran):
        raise NotYet(f"{RUNAWAY} ran, but failed or gave a wrong answer.", restore)
    if len(ran) > 2:
        raise NotYet(f"Three invokes at once all ran: {RUNAWAY} is not capped at 2.", hint)
    if not ran:
        raise NotYet(f"None of three invokes at once ran: {RUNAWAY} should run two of them.", hint)
    if any(reason != "ReservedFunctionConcurrentInvocationLimitExceeded" for _, reason, _ in throttled):
        raise NotYet(f"An invoke was throttled for another reason ({throttled[0][1]}).", hint)
    return (f"{RUNAWAY} is capped at 2: of three invokes at once, {len(ran)} ran and {len(throttled)} "
            "was throttled with ReservedFunctionConcurrentInvocationLimitExceeded.")
