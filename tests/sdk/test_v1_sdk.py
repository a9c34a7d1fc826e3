"""IIMMPACT's official Python SDK (PyPI `iimmpact` 1.0.0, generated from
IIMMPACT's v1 swagger), unchanged, against a live tambah: every v1 call it
has, and every field its models declare populated where the server has the
value. Run by tests/sdk/run.sh (which starts the server and makes the
merchant); exits non-zero on the first failed check.

Environment: TAMBAH_URL, TAMBAH_USERNAME, TAMBAH_PASSWORD."""

import os
import sys
import time
import uuid

import iimmpact
from iimmpact.rest import ApiException

URL = os.environ["TAMBAH_URL"]
USERNAME = os.environ["TAMBAH_USERNAME"]
PASSWORD = os.environ["TAMBAH_PASSWORD"]

checks = 0


def check(what, ok, detail=""):
    global checks
    checks += 1
    if not ok:
        print(f"FAIL {what}: {detail}")
        sys.exit(1)
    print(f"ok   {what}")


def unset(model, allowed=()):
    """The declared fields of a model (and of the models inside it) that are
    None, by dotted name; `allowed` names those the server has no value for."""
    missing = []
    for name in model.swagger_types:
        value = getattr(model, name)
        if value is None:
            if name not in allowed:
                missing.append(name)
        elif hasattr(value, "swagger_types"):
            missing += [f"{name}.{m}" for m in unset(value, {a.split(".", 1)[1] for a in allowed if a.startswith(name + ".")})]
        elif isinstance(value, list):
            for item in value[:3]:
                if hasattr(item, "swagger_types"):
                    missing += [f"{name}[].{m}" for m in unset(item, {a.split(".", 1)[1] for a in allowed if a.startswith(name + "[].")})]
    return missing


def populated(what, model, allowed=()):
    missing = unset(model, allowed)
    check(f"{what}: every declared field populated", not missing, f"None: {missing}")


def client(token=None):
    config = iimmpact.Configuration()
    config.host = URL
    if token:
        config.api_key["Authorization"] = token
    return iimmpact.ApiClient(config)


def refid():
    return "sdk-" + uuid.uuid4().hex[:16]


# Token and refresh.
auth = iimmpact.AuthorizationTokenApi(client())
tokens = auth.v1_token_post(iimmpact.TokenRequest(username=USERNAME, password=PASSWORD))
populated("token", tokens)
refreshed = auth.v1_token_refresh_post(
    iimmpact.RefreshTokenRequest(refresh_token=tokens.authentication_result.refresh_token))
check("refresh gives an IdToken", bool(refreshed.authentication_result.id_token))
api = client(refreshed.authentication_result.id_token)

# Balance.
account = iimmpact.MyAccountApi(api)
balance = account.v1_balance_get()
populated("balance", balance)
start_balance = balance.data.balance

# Products.
products = iimmpact.ProductEnquiryApi(api).v1_products_get()
check("products listed", len(products.data) > 10, len(products.data))
populated("products", products)

services = iimmpact.ServicesApi(api)


def topup(product, account_no, amount, **extra):
    ref = refid()
    body = iimmpact.TopupRequest(refid=ref, product=product, account=account_no, amount=amount, **extra)
    for _ in range(50):
        answer = services.v1_topup_post(body)
        if answer.data.status in ("Succesful", "Successful", "Failed"):
            return ref, answer
        time.sleep(0.1)
    return ref, answer


# Topups: whole ringgit, fractional (IIMMPACT's SDK declares amount an
# integer), a PIN product.
ref_whole, whole = topup("D", "0123456789", 10)
check("whole-ringgit topup succeeds", whole.data.status == "Succesful", whole.data)
check("whole-ringgit amount", whole.data.amount == 10, whole.data.amount)
populated("topup", whole)
ref_frac, frac = topup("SYABAS", "1234567890", 132.33)
check("132.33 topup returns without raising and succeeds", frac.data.status == "Succesful", frac.data)
# The SDK declares amount an integer: it keeps the whole ringgit of a JSON
# number (documented); the listing below has the exact amount.
check("132.33 topup: the SDK keeps 132", frac.data.amount == 132, frac.data.amount)
populated("fractional topup", frac)
ref_pin, pin = topup("CP", "0123456789", 10)
check("PIN topup succeeds", pin.data.status == "Succesful", pin.data)
check("PIN topup: sn carries PIN, serial and expiry", all(k in pin.data.sn for k in ("PIN=", "SN=", "EXPIRY=")), pin.data.sn)
populated("PIN topup", pin)
# Products that need a plan, a biller or a payer: the SDK's TopupRequest has
# no extras, so product names the plan or biller after a slash and remarks
# carries key=value pairs.
ref_data, data = topup("HI/Unlimited RM55 12Mbps with 5G (100GB) 30D", "0123456789", 55)
check("a data plan through the SDK", data.data.status == "Succesful", data.data)
ref_jompay, jompay = topup("JOMPAY/5454", "220012345678", 88.2, remarks="ic_number=900101145678")
check("a JomPAY bill through the SDK", jompay.data.status == "Succesful", jompay.data)
ref_zakat, zakat = topup("ZAKAT/SEL-FITRAH", "900101145678", 14,
                         remarks="ic_number=900101145678; name=Ali bin Abu; email=ali@kedai.my")
check("zakat through the SDK", zakat.data.status == "Succesful", zakat.data)
failed_ref, failed = topup("D", "60123450048", 10)
check("a refused topup reads Failed", failed.data.status == "Failed", failed.data)
check("a refused topup says why", bool(failed.data.remarks), failed.data)
check("a refused topup costs nothing", failed.data.cost == 0, failed.data)

# Bill presentment: a valid account and an invalid one.
valid = services.v1_bill_presentment_get("220001234567", product="TNB")
check("presentment of a valid account", valid.data is not None, valid)
populated("presentment", valid)
try:
    invalid = services.v1_bill_presentment_get("1", product="TNB")
    check("presentment of an invalid account parses", invalid.data is not None, invalid)
except ApiException as e:
    check("presentment of an invalid account: an error the SDK reads", e.status in (400, 404, 422), e)

# Network status.
status = services.v1_networkstatus_get("D")
populated("network status", status)

# Transactions and the balance statement of today (Malaysia time).
today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
history = iimmpact.TransactionHistoryApi(api)
listed = history.v1_transactions_get(today, refid=ref_whole)
check("transactions: the order by refid", len(listed.data) == 1, listed)
populated("transactions", listed)
row = listed.data[0]
check("transactions: ref_id matches", row.ref_id == ref_whole, row)
check("transactions: balance prev - new is the price", abs(row.balance.prev - row.balance.new - row.price) < 0.005, row)
exact = history.v1_transactions_get(today, refid=ref_frac).data[0]
check("transactions: the exact fractional amount", exact.amount == 132.33, exact.amount)
pin_row = history.v1_transactions_get(today, refid=ref_pin).data[0]
check("transactions: the PIN in sn", pin_row.sn == pin.data.sn, pin_row.sn)
by_sn = history.v1_transactions_get(today, sn=pin.data.sn).data
check("transactions: found by the packed sn", [r.ref_id for r in by_sn] == [ref_pin], by_sn)
everything = history.v1_transactions_get(today, limit=100)
check("transactions: every order today", len(everything.data) >= 7, len(everything.data))
statement = history.v1_balance_statement_get(today)
check("statement lists movements", len(statement.data) >= 3, statement)
populated("statement", statement, allowed=("links.prev", "links.next"))

# Callback URL and low-balance warning.
callbacks = iimmpact.CallbackUrlApi(api)
callbacks.v1_callback_url_post("https://1.1.1.1/tambah-sdk-test")
shown = callbacks.v1_callback_url_get()
check("callback URL set and shown", shown.data.callback_url == "https://1.1.1.1/tambah-sdk-test", shown)
populated("callback URL", shown)
low = iimmpact.LowBalanceWarningApi(api)
low.v1_low_balance_threshold_post(50)
threshold = low.v1_low_balance_threshold_get()
populated("low-balance threshold", threshold)

# The calls tambah does not offer answer in the SDK's error shape.
for name, call in [
    ("car insurance", lambda: iimmpact.CarInsuranceApi(api).v1_car_insurance_get("WXY1234")),
    ("JPJ summons", lambda: iimmpact.JPJRecordsApi(api).v1_jpj_summons_get("900101015555", "1")),
]:
    try:
        call()
        check(f"{name}: refused", False, "answered 2xx")
    except ApiException as e:
        check(f"{name}: a clear 'not offered' answer", e.status == 403 and "not offered" in (e.body or ""), e)

# The new-password challenge: none is ever pending, said in the SDK's error shape.
try:
    iimmpact.MyAccountApi(client()).v1_auth_new_password_challenge_post(iimmpact.NewPasswordRequest(
        username=USERNAME, old_password=PASSWORD, new_password="another-password-1", session="x"))
    check("new-password challenge: refused", False, "answered 2xx")
except ApiException as e:
    check("new-password challenge: says none is pending", e.status == 401 and "change-password" in e.body, e)

end = account.v1_balance_get().data.balance
paid = [whole, frac, pin, data, jompay, zakat]
check("the wallet paid exactly the successful topups",
      abs((start_balance - end) - sum(t.data.cost for t in paid)) < 0.005,
      (start_balance, end, [t.data.cost for t in paid]))

# Changing the password, then a token with the new one.
account.v1_auth_change_password_post(iimmpact.NewPasswordRequest(old_password=PASSWORD, new_password="sdk-new-password"))
again = auth.v1_token_post(iimmpact.TokenRequest(username=USERNAME, password="sdk-new-password"))
check("a token with the changed password", bool(again.authentication_result.id_token))
print(f"{checks} checks passed; balance {start_balance} -> {end}")
