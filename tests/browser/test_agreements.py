"""Framework agreements as people use them, one sign-in per role: the Warta buyer follows the
quarter's progress to the next tier, sees what the cart adds, prepays at checkout for a lower
total and reads the terms on the order, which is approved at once and counts in the quarter; the admin drafts an agreement, is stopped by tiers that do
not increase, fixes them and activates it; finance reads the closed quarter's rebate and the open
accruals; the account manager reviews Baltic's waiting order with a line outside its agreement.

Demo data (portal/demo.py `_agreements`): Warta Clinics' retrospective quarterly agreement (tiers
15,000 → 1 %, 35,000 → 2 %, 70,000 → 3 %; skonto 2 % within 7 days; prepayment −1 %, 60 days +1 %),
its previous quarter closed; Baltic Foods' prospective agreement with an agreed assortment and a
waiting order with a line outside it. Silesia Build, which has no agreement and which no other
browser test uses, gets the admin's new one. The Warta buyer's order leaves the cart empty, as
test_quotes.py expects it."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Page, expect

from tests.browser.test_quotes import CENT, add_to_cart, amount, signed_in

WARTA_BUYER = "buyer@warta.example"
ADMIN = "admin@seller.example"
FINANCE = "finance@seller.example"
MANAGER = "manager@seller.example"
WARTA_TIERS = [(Decimal("15000"), Decimal("1")), (Decimal("35000"), Decimal("2")), (Decimal("70000"), Decimal("3"))]
"""Warta Clinics' quarterly tiers (threshold, rebate %), as the demo agreement has them."""
SKU = "CLN-021"
"""Floor cleaner, small: a product Warta buys (23 % VAT, sold by the piece)."""
VAT = Decimal("0.23")
UNIT = Decimal("0.0001")
SELLER_ZONE = ZoneInfo("Europe/Warsaw")
MONEY = r"PLN ([\d,]+\.\d{2})"


def text_of(page: Page, selector: str) -> str:
    """The element's text, its white space (tabs, the non-breaking spaces of money) made one space."""
    return " ".join(page.locator(selector).inner_text().split())


def pln(value: Decimal) -> str:
    return f"PLN {value:,.2f}"


def money(value: str) -> Decimal:
    return Decimal(value.replace(",", ""))


def tier_for(turnover: Decimal) -> tuple[Decimal, Decimal] | None:
    """The highest Warta tier `turnover` reaches."""
    reached = [tier for tier in WARTA_TIERS if turnover >= tier[0]]
    return reached[-1] if reached else None


def next_tier(turnover: Decimal) -> tuple[Decimal, Decimal]:
    """The lowest Warta tier `turnover` has not reached (the demo's quarter stays short of the top)."""
    return next(tier for tier in WARTA_TIERS if turnover < tier[0])


def progress_line(turnover: Decimal) -> str:
    threshold, pct = next_tier(turnover)
    return f"{pln(turnover)} of {pln(threshold)} this quarter — {pln(threshold - turnover)} more for {pct} %"


def with_effect(unit_price: Decimal, effect_pct: Decimal) -> Decimal:
    """A unit price with a payment choice's price effect, to the 4 decimals of unit prices."""
    return (unit_price * (1 + effect_pct / 100)).quantize(UNIT, rounding=ROUND_HALF_UP)


def gross_of(net: Decimal) -> Decimal:
    return net + (net * VAT).quantize(CENT, rounding=ROUND_HALF_UP)


def test_the_buyer_follows_the_tiers_and_prepays_for_a_lower_price(browser: Browser, base_url: str) -> None:
    buyer = signed_in(browser, base_url, WARTA_BUYER)
    try:
        _buyer(buyer)
    finally:
        buyer.context.close()


def _buyer(buyer: Page) -> None:
    # --- home: the quarter's progress to the next tier -------------------------------------------
    expect(buyer.get_by_role("heading", level=1)).to_have_text("Warta Clinics")
    line = text_of(buyer, "#tier-progress .tier-line")
    found = re.fullmatch(rf"{MONEY} of {MONEY} this quarter — {MONEY} more for \d+ %", line)
    assert found, line
    done = money(found.group(1))
    assert line == progress_line(done)  # e.g. "PLN 27,378.01 of PLN 35,000.00 this quarter — PLN 7,621.99 more for 2 %"
    reached = tier_for(done)
    if reached:  # from about the quarter's fourth week on, the demo has reached 1 %
        expect(buyer.locator("#tier-progress .tier-reached")).to_contain_text(f"{reached[1]} % reached on")

    # --- the cart adds to it ----------------------------------------------------------------------
    sku = SKU
    add_to_cart(buyer, sku)
    buyer.get_by_role("link", name="Cart", exact=True).click()
    expect(buyer.locator("#cart-lines tbody tr")).to_have_count(1)
    cart_net = amount(text_of(buyer, f"#cart-lines tr[data-sku='{sku}'] .line-net"))
    with_cart = done + cart_net
    threshold, pct = next_tier(with_cart)
    expect(buyer.locator("#tier-progress .tier-cart")).to_have_text(
        f"With this cart: {pln(with_cart)} — {pln(threshold - with_cart)} more for {pct} %"
    )

    # --- checkout: each payment choice with its totals; prepayment is 1 % cheaper ------------------
    buyer.get_by_role("link", name="Go to checkout").click()
    expect(buyer.get_by_role("heading", level=1)).to_have_text("Checkout")
    unit_price = amount(text_of(buyer, "#checkout-lines td[data-label='Unit price']"))
    quantity = int(text_of(buyer, "#checkout-lines td[data-label='Quantity']"))
    choices = buyer.locator("#payment-choices label.choice")
    expect(choices).to_have_count(3)
    totals: dict[str, tuple[Decimal, Decimal]] = {}
    for label in ("Standard terms: 30 days", "Prepayment, −1.00 %", "60 days, +1.00 %"):
        shown = text_of(buyer, f"#payment-choices label.choice:has(.choice-label:text-is('{label}')) .choice-totals")
        found = re.fullmatch(rf"Net {MONEY}, gross {MONEY}", shown)
        assert found, shown
        totals[label] = (money(found.group(1)), money(found.group(2)))
    standard_net, standard_gross = totals["Standard terms: 30 days"]
    assert standard_net == (unit_price * quantity).quantize(CENT, rounding=ROUND_HALF_UP) == cart_net
    assert standard_gross == gross_of(standard_net)
    prepaid_net = (with_effect(unit_price, Decimal("-1")) * quantity).quantize(CENT, rounding=ROUND_HALF_UP)
    assert totals["Prepayment, −1.00 %"] == (prepaid_net, gross_of(prepaid_net))
    assert totals["Prepayment, −1.00 %"][1] < standard_gross < totals["60 days, +1.00 %"][1]
    later_net = (with_effect(unit_price, Decimal("1")) * quantity).quantize(CENT, rounding=ROUND_HALF_UP)
    assert totals["60 days, +1.00 %"] == (later_net, gross_of(later_net))
    expect(buyer.locator("#checkout-skonto")).to_have_text(
        "Early payment: 2.00 % early-payment discount if paid within 7 days of the invoice date."
    )
    expect(buyer.get_by_role("radio", name=re.compile("^Standard terms: 30 days"))).to_be_checked()
    buyer.get_by_role("radio", name=re.compile("^Prepayment, −1.00 %")).check()
    buyer.get_by_label("Your purchase order number").fill("PO-WARTA-PREPAID")
    buyer.get_by_role("button", name="Submit order for approval").click()

    # --- the order: the terms frozen with their effect, the skonto, the prepaid totals -------------
    expect(buyer).to_have_url(re.compile(r"/orders/\d+$"))
    expect(buyer.locator("#order-status")).to_have_text("Approved")  # Warta's orders without flags are approved at once
    expect(buyer.get_by_text("PO-WARTA-PREPAID")).to_be_visible()
    expect(buyer.locator("#order-payment-terms")).to_have_text("Prepayment (−1.00 %)")
    expect(buyer.locator("#order-skonto")).to_have_text(
        "Early payment: 2.00 % early-payment discount if paid within 7 days of the invoice date."
    )
    order_totals = text_of(buyer, "#order-totals")
    assert f"Net total {pln(prepaid_net)}" in order_totals, order_totals
    assert f"Gross total {pln(gross_of(prepaid_net))}" in order_totals, order_totals
    line_price = text_of(buyer, f"#order-lines tr[data-sku='{sku}'] td[data-label='Unit price']")
    assert amount(line_price) == with_effect(unit_price, Decimal("-1")), line_price
    buyer.get_by_role("link", name="Cart", exact=True).click()
    expect(buyer.locator("#cart-empty")).to_be_visible()  # the order took the cart

    # --- approved, it counts: the quarter's turnover grew by the order's net, at its prepaid price --
    buyer.get_by_role("link", name="Home", exact=True).click()
    expect(buyer.locator("#tier-progress .tier-line")).to_have_text(progress_line(done + prepaid_net))


def _quarter_start(today: date) -> date:
    return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)


def test_the_admin_drafts_fixes_the_tiers_and_activates_an_agreement(browser: Browser, base_url: str) -> None:
    admin = signed_in(browser, base_url, ADMIN)
    try:
        _admin(admin)
    finally:
        admin.context.close()


def _admin(admin: Page) -> None:
    today = datetime.now(SELLER_ZONE).date()  # the seller's day, as the portal counts it
    number = f"FA-{today.year}-901"
    admin.get_by_role("link", name="Agreements", exact=True).click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Agreements")
    expect(admin.locator("#agreements tr[data-agreement]", has_text="Silesia Build")).to_have_count(0)
    admin.get_by_role("link", name="New agreement").click()

    # --- the draft --------------------------------------------------------------------------------
    expect(admin.get_by_role("heading", level=1)).to_have_text("New agreement")
    admin.get_by_label("Number").fill(number)
    admin.get_by_label("Company").select_option(label="Silesia Build (PL6340007004)")
    admin.get_by_label("Valid from").fill(_quarter_start(today).isoformat())
    admin.get_by_label("Settlement period").select_option("quarter")
    admin.get_by_label("Tiers", exact=True).select_option("retrospective")
    admin.get_by_label("Special terms").fill("Quarterly rebate on building materials for all sites.")
    admin.get_by_label("Skonto % (empty: none)").fill("1.5")
    admin.get_by_label("Paid within days of the invoice").fill("10")
    admin.get_by_role("button", name="Create the draft").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Agreement {number} draft")
    expect(admin.get_by_text(f"Agreement {number} created as a draft.")).to_be_visible()
    expect(admin.locator("#agreement-data")).to_contain_text("Silesia Build")
    expect(admin.locator("#skonto")).to_have_text("1.50 % if paid within 10 days")
    expect(admin.locator("#tier-sets")).to_contain_text("No tiers yet.")

    # --- two tiers: the second one's rebate does not rise, refused next to its field --------------
    admin.locator("#edit-tiers").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Tiers of agreement {number}")
    rows = admin.locator("#tiers tbody tr")
    rows.nth(0).get_by_label("Threshold").fill("20000")
    rows.nth(0).get_by_label("Rebate %").fill("2")
    rows.nth(1).get_by_label("Threshold").fill("50000")
    rows.nth(1).get_by_label("Rebate %").fill("1.5")
    admin.get_by_role("button", name="Save the tiers").click()
    second = admin.locator("#tiers tbody tr[data-row='1']")
    rebate = second.get_by_label("Rebate %")
    expect(rebate).to_have_attribute("aria-invalid", "true")
    expect(second.locator(".field-error")).to_have_text(
        "Tiers are not increasing: a higher threshold needs a higher rebate than 2 %."
    )
    expect(admin.locator("#tiers-form .field-error")).to_have_count(1)  # only there
    expect(rebate).to_have_value("1.5")  # what was typed stays
    expect(admin.locator("#tiers tbody tr[data-row='0']").get_by_label("Threshold")).to_have_value("20000")
    rebate.fill("3.5")
    admin.get_by_role("button", name="Save the tiers").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Agreement {number} draft")
    expect(admin.get_by_text(re.compile(r"Tiers from \d{4}-\d{2}-\d{2} saved\."))).to_be_visible()
    tier_rows = admin.locator("#tier-sets tbody tr")
    expect(tier_rows).to_have_count(2)
    expect(tier_rows.nth(0).locator("td")).to_have_text(["all products", "PLN 20,000.00", "2.00 %"])
    expect(tier_rows.nth(1).locator("td")).to_have_text(["all products", "PLN 50,000.00", "3.50 %"])

    # --- activate; the list shows it active ------------------------------------------------------
    admin.get_by_label(f"Activate agreement {number} for Silesia Build").check()
    admin.locator("#activate").get_by_role("button", name="Activate").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Agreement {number} active")
    expect(admin.locator("#end")).to_be_visible()
    admin.get_by_role("link", name="‹ Agreements").click()
    row = admin.locator(f"#agreements tr[data-agreement='{number}']")
    expect(row).to_contain_text("Silesia Build")
    expect(row.locator("td").nth(2)).to_have_text("active")
    expect(admin.locator("#agreements tr[data-agreement]", has_text="Silesia Build")).to_have_count(1)


def test_finance_reads_the_closed_quarter_and_the_open_accruals(browser: Browser, base_url: str) -> None:
    finance = signed_in(browser, base_url, FINANCE)
    try:
        _finance(finance)
    finally:
        finance.context.close()


def _finance(finance: Page) -> None:
    finance.get_by_role("link", name="Rebates", exact=True).click()
    expect(finance.get_by_role("heading", level=1)).to_have_text("Rebates")

    # --- the closed Warta quarter: its turnover at the tier reached, the rebate computed by hand ----
    closed = finance.locator("#close-rows tbody tr", has_text="Warta Clinics")
    expect(closed).to_have_count(1)
    cells = {
        cell.get_attribute("data-label"): " ".join(cell.inner_text().split()) for cell in closed.locator("td").all()
    }
    assert re.fullmatch(r"FA-\d{4}-001", cells["Agreement"]), cells
    turnover = amount(cells["Turnover"])
    reached = tier_for(turnover)
    assert reached == WARTA_TIERS[1], turnover  # the demo's previous quarter reached 2 %
    assert cells["Tier"] == "All products: 2.0 %", cells
    rebate = (turnover * reached[1] / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    assert cells["Rebate"] == pln(rebate), (cells, rebate)
    assert cells["ERP"] == "not exported yet", cells

    # --- the open accruals: Warta's quarter so far, and Baltic's tiers given in its prices ----------
    warta = finance.locator("#accrual-rows tbody tr", has_text="Warta Clinics")
    expect(warta).to_have_count(1)
    so_far = amount(text_of(finance, "#accrual-rows tr:has-text('Warta Clinics') .turnover"))
    projected = amount(text_of(finance, "#accrual-rows tr:has-text('Warta Clinics') .projected"))
    assert projected >= so_far
    on_track = tier_for(projected)
    if on_track is None:
        expect(warta.locator(".on-track")).to_have_text("none yet")
        expect(warta.locator(".expected")).to_have_text(pln(Decimal("0.00")))
    else:
        expect(warta.locator(".on-track")).to_have_text(f"{on_track[1]:.1f} % from {pln(on_track[0])}")
        expected = (so_far * on_track[1] / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        expect(warta.locator(".expected")).to_have_text(pln(expected))  # e.g. 27,378.01 × 2 % = 547.56
    baltic = finance.locator("#accrual-rows tbody tr", has_text="Baltic Foods")
    expect(baltic).to_contain_text("prospective")
    expect(baltic.locator(".expected")).to_have_text("in the prices")


def test_the_manager_sees_the_line_outside_the_agreement(browser: Browser, base_url: str) -> None:
    manager = signed_in(browser, base_url, MANAGER)
    try:
        _manager(manager)
    finally:
        manager.context.close()


def _manager(manager: Page) -> None:
    manager.get_by_role("link", name=re.compile("^Queue")).click()
    manager.get_by_label("Flag now").select_option(label="Outside the agreement")
    manager.get_by_role("button", name="Filter").click()
    waiting = manager.locator("#queue tbody tr", has_text="Baltic Foods").first
    expect(waiting).to_contain_text("Outside the agreement")
    waiting.get_by_role("link", name=re.compile("^ORD-")).click()
    expect(manager.get_by_role("heading", level=1)).to_contain_text("Baltic Foods")

    # --- the flag names the line outside the agreed assortment ------------------------------------
    flag = text_of(manager, "#submitted-flags li")
    found = re.fullmatch(r"Outside the agreement (FA-\d{4}-002): (\S+) (.+)", flag)
    assert found, flag
    number, sku, name = found.groups()
    outside = manager.locator(f"#review-lines tr[data-sku='{sku}']")
    expect(outside).to_have_count(1)
    expect(outside).to_contain_text(name)
    assert not sku.startswith("FRZ-"), sku  # frozen food is agreed
    expect(manager.locator("#decision")).to_contain_text(flag)  # still true now: a warning to review

    # --- margin after rebate and skonto: the tiers are in Baltic's prices, no skonto ---------------
    expect(manager.locator("#review-lines thead")).to_contain_text("Margin after rebate and skonto")
    expect(manager.locator("#margin-note")).to_have_text(
        f"Margin after rebate and skonto, estimated for agreement {number}: "
        "no rebate expected: volume tiers lower the prices themselves; no skonto."
    )
    for row in manager.locator("#review-lines tbody tr[data-sku]").all():
        margin = amount(row.locator("td").nth(7).inner_text())
        after = row.locator(".after-terms").inner_text()
        assert amount(after) == margin, (row.inner_text(), after)
