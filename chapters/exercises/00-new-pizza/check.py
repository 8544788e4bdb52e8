"""Exercise 00-new-pizza (chapter 00): a funghi, 9.50, on the menu."""
import html

STEP = "01"


def test_the_menu_lists_funghi(serve):
    server = serve("01")
    menu = server.fetch("GET", "/menu").json()
    assert {"pizza": "funghi", "price_cents": 950} in menu, (
        "expected funghi at 950 cents on GET /menu; the menu says "
        + ", ".join(f"{p.get('pizza')} {p.get('price_cents')}" for p in menu))


def test_two_funghi_cost_19_euros(serve):
    server = serve("01", "--bake-ms", "0")
    with server.connect() as customer:
        receipt = customer.order("funghi", 2)
    assert receipt.status == 200, (
        f"expected 200 for an order of two funghi; got {receipt.status} "
        f"{receipt.reason} {receipt.body!r}")
    total = receipt.json().get("total_cents")
    assert total == 1900, (
        f"expected total_cents 1900 for two funghi; the receipt says {total}")


def test_the_front_page_offers_funghi(serve):
    server = serve("01")
    page = html.unescape(server.fetch("GET", "/").body.decode())
    assert '<option value="funghi">' in page, (
        "expected the front page's order form to offer "
        "<option value=\"funghi\">; it does not")
