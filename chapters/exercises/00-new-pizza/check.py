"""Exercise 00-new-pizza (chapter 00): a funghi, 9.50, on the menu."""
import html


def test_the_menu_lists_funghi(serve):
    server = serve("01")
    menu = server.fetch("GET", "/menu").json()
    assert {"pizza": "funghi", "price_cents": 950} in menu


def test_two_funghi_cost_19_euros(serve):
    server = serve("01", "--bake-ms", "0")
    with server.connect() as customer:
        receipt = customer.order("funghi", 2)
    assert receipt.status == 200, receipt.body
    assert receipt.json()["total_cents"] == 1900


def test_the_front_page_offers_funghi(serve):
    server = serve("01")
    page = html.unescape(server.fetch("GET", "/").body.decode())
    assert '<option value="funghi">' in page
