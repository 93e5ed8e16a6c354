"""The block explorer in headless Chromium against a live regtest node: every page shows what
the API says, links lead from home to a block to a transaction to an address, the search box
finds heights, hashes, txids and addresses, pages fit a phone, and the home page follows new
blocks and transactions without reloading. Screenshots land in tests/artifacts/explorer/."""

from __future__ import annotations

import math

import pytest

from .live import (
    ARTIFACTS,
    BATCH,
    CHROMIUM,
    CHROMIUM_ARGS,
    PAYMENT_FEE,
    PENDING_FEE,
    Chain,
    coins,
    count,
    fee_rate,
    playwright_or_skip,
    signed_coins,
    start_chain,
    utc,
    vsize,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

# make test distributes whole files (--dist loadfile), so one worker runs this module: one node
# and one browser, and the tests run in the order written.
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 10_000  # for values to appear; the home page polls every 2 s


@pytest.fixture(scope="module")
def browser():
    sync_playwright = playwright_or_skip()
    with sync_playwright() as pw:
        # Playwright gives every launch a fresh, temporary user-data directory.
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def chain(browser, tmp_path_factory):
    c = start_chain(tmp_path_factory.mktemp("explorer") / "node")
    yield c
    c.stop()


class Tab:
    """A browser tab on the node that fails the test on a script error or on any request to
    another host (everything must come from the node itself)."""

    def __init__(self, browser, chain: Chain, viewport: dict) -> None:
        self.chain = chain
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: None if r.url.startswith(chain.base + "/")
                     else self.foreign.append(r.url))

    def open(self, path: str):
        self.page.goto(self.chain.base + path)
        return self.page

    def field(self, name: str, scope=None):
        return (scope or self.page).locator(f'[data-field="{name}"]').first

    def shows(self, name: str, text: str, scope=None) -> None:
        expect(self.field(name, scope)).to_have_text(text)

    def ids(self, selector: str, attribute: str) -> list[str]:
        return self.page.locator(selector).evaluate_all(
            f"(els) => els.map((e) => e.getAttribute('{attribute}'))")

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()
        assert not self.errors, f"script errors on the page: {self.errors}"
        assert not self.foreign, f"requests to other hosts: {self.foreign}"


@pytest.fixture
def tab(browser, chain):
    t = Tab(browser, chain, DESKTOP)
    yield t
    t.close()


def test_home_shows_the_tip_mempool_fee_histogram_latest_blocks_and_peers(tab, chain):
    api = chain.http
    page = tab.open("/")
    blocks = api.get("/api/blocks")
    tip = blocks[0]
    assert tip["id"] == api.text("/api/blocks/tip/hash")
    tab.shows("tip-height", str(tip["height"]))
    tab.shows("tip-hash", tip["id"])
    shown = float(tab.field("difficulty").inner_text())
    assert math.isclose(shown, tip["difficulty"], rel_tol=1e-4)

    mempool = api.get("/api/mempool")
    assert mempool["count"] == 1 and mempool["fee_histogram"]
    tab.shows("mempool-count", count(mempool["count"]))
    tab.shows("mempool-vsize", f"{count(mempool['vsize'])} vB")
    tab.shows("mempool-fees", coins(mempool["total_fee"]))
    bars = page.locator("svg.histogram g.bar")
    expect(bars).to_have_count(len(mempool["fee_histogram"]))
    shown_bars = bars.evaluate_all(
        "(els) => els.map((e) => [Number(e.dataset.feerate), Number(e.dataset.vsize)])")
    assert shown_bars == mempool["fee_histogram"]

    expect(page.locator("table.blocks tbody tr")).to_have_count(len(blocks))
    assert tab.ids("table.blocks tbody tr", "data-hash") == [b["id"] for b in blocks]
    assert page.locator("table.blocks tbody tr").first.locator("[data-field=tx_count]") \
        .inner_text() == str(tip["tx_count"])
    recent = api.get("/api/mempool/recent")
    assert tab.ids("section:has(h2:text('Recent transactions')) li", "data-txid") == \
        [t["txid"] for t in recent] == [chain.pending]

    info = api.get("/node/info")
    assert info["peer_list"] == [] and info["peers"] == 0
    tab.shows("peers", "No peers (0 connected).")
    expect(page.locator("#network")).to_have_text("regtest")
    tab.screenshot("home")


def test_block_page_shows_the_header_and_pages_through_its_transactions(tab, chain):
    api = chain.http
    page = tab.open(f"/block/{chain.big_block}")
    b = api.get(f"/api/block/{chain.big_block}")
    tip_height = int(api.text("/api/blocks/tip/height"))
    expect(page.locator("h1")).to_have_text(f"Block {b['height']}")
    tab.shows("hash", b["id"])
    tab.shows("height", str(b["height"]))
    tab.shows("confirmations", count(tip_height - b["height"] + 1))
    tab.shows("time", utc(b["timestamp"]))
    tab.shows("mediantime", utc(b["mediantime"]))
    tab.shows("previousblockhash", b["previousblockhash"])
    tab.shows("next", api.get(f"/api/block/{b['id']}/status")["next_best"] or "—")
    tab.shows("merkle_root", b["merkle_root"])
    tab.shows("version", f"0x{b['version']:08x}")
    tab.shows("bits", f"0x{b['bits']:08x}")
    tab.shows("nonce", str(b["nonce"]))
    tab.shows("tx_count", count(b["tx_count"]))
    tab.shows("size", f"{count(b['size'])} B")
    tab.shows("weight", f"{count(b['weight'])} WU")
    assert b["tx_count"] == BATCH + 2

    first = api.get(f"/api/block/{b['id']}/txs")
    expect(page.locator(".tx-list > li")).to_have_count(25)
    assert tab.ids(".tx-list > li", "data-txid") == [t["txid"] for t in first]
    tab.shows("page", f"1–25 of {b['tx_count']}")
    tab.screenshot("block")

    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(f"{chain.base}/block/{b['id']}?start=25")
    second = api.get(f"/api/block/{b['id']}/txs/25")
    expect(page.locator(".tx-list > li")).to_have_count(len(second))
    assert tab.ids(".tx-list > li", "data-txid") == [t["txid"] for t in second]
    tab.shows("page", f"26–{b['tx_count']} of {b['tx_count']}")
    row = page.locator(".tx-list > li").first
    tab.shows("fee", f"fee {fee_rate(second[0]['fee'], vsize(second[0]))}", row)
    expect(page.get_by_role("link", name="Next →")).to_have_count(0)
    page.get_by_role("link", name="← Previous").click()
    expect(page.locator(".tx-list > li")).to_have_count(25)


def test_transaction_page_shows_inputs_outputs_spends_fee_and_confirmations(tab, chain):
    api = chain.http
    page = tab.open(f"/tx/{chain.payment}")
    t = api.get(f"/api/tx/{chain.payment}")
    tip_height = int(api.text("/api/blocks/tip/height"))
    assert t["fee"] == PAYMENT_FEE and t["status"]["confirmed"]
    tab.shows("txid", t["txid"])
    tab.shows("block", f"block {t['status']['block_height']}")
    tab.shows("confirmations", count(tip_height - t["status"]["block_height"] + 1))
    tab.shows("block_time", utc(t["status"]["block_time"]))
    tab.shows("fee", f"{count(PAYMENT_FEE)} sat")
    tab.shows("feerate", fee_rate(PAYMENT_FEE, vsize(t)))
    tab.shows("vsize", f"{count(vsize(t))} vB")
    tab.shows("weight", f"{count(t['weight'])} WU")
    tab.shows("size", f"{count(t['size'])} B")

    inputs = page.locator(".inputs > li")
    expect(inputs).to_have_count(len(t["vin"]))
    for i, vin in enumerate(t["vin"]):
        row = inputs.nth(i)
        tab.shows("prevout", f"{vin['txid']}:{vin['vout']}", row)
        tab.shows("value", coins(vin["prevout"]["value"]), row)
        tab.shows("address", vin["prevout"]["scriptpubkey_address"], row)

    outspends = api.get(f"/api/tx/{chain.payment}/outspends")
    assert outspends[0]["txid"] == chain.pending and not outspends[1]["spent"]
    outputs = page.locator(".outputs > li")
    expect(outputs).to_have_count(len(t["vout"]))
    for i, vout in enumerate(t["vout"]):
        row = outputs.nth(i)
        tab.shows("value", coins(vout["value"]), row)
        tab.shows("address", vout["scriptpubkey_address"], row)
        if outspends[i]["spent"]:
            tab.shows("spender", f"{outspends[i]['txid']}:{outspends[i]['vin']}", row)
            expect(row.locator(".badge.pending")).to_have_text("unconfirmed")
        else:
            tab.shows("spent", "unspent", row)
    tab.screenshot("tx-confirmed")

    # The unconfirmed spend: no block, no confirmations, its own fee; a legacy output.
    page = tab.open(f"/tx/{chain.pending}")
    p = api.get(f"/api/tx/{chain.pending}")
    tab.shows("status", "unconfirmed (in the mempool)")
    tab.shows("confirmations", "0")
    tab.shows("fee", f"{count(PENDING_FEE)} sat")
    tab.shows("feerate", fee_rate(PENDING_FEE, vsize(p)))
    assert p["vout"][0]["scriptpubkey_type"] == "p2pkh"
    tab.shows("address", p["vout"][0]["scriptpubkey_address"], page.locator(".outputs > li").first)
    tab.screenshot("tx-unconfirmed")


def test_address_page_shows_balance_utxos_and_pages_through_history(tab, chain):
    api = chain.http
    addr = chain.payee_address
    page = tab.open(f"/address/{addr}")
    info = api.get(f"/api/address/{addr}")
    c, m = info["chain_stats"], info["mempool_stats"]
    confirmed = c["funded_txo_sum"] - c["spent_txo_sum"]
    unconfirmed = m["funded_txo_sum"] - m["spent_txo_sum"]
    assert confirmed > 0 and unconfirmed < 0
    tab.shows("address", addr)
    tab.shows("confirmed", coins(confirmed))
    tab.shows("unconfirmed", coins(unconfirmed))
    tab.shows("balance", coins(confirmed + unconfirmed))
    tab.shows("tx_count", count(c["tx_count"] + m["tx_count"]))
    utxos = api.get(f"/api/address/{addr}/utxo")
    expect(page.locator(".utxos > li")).to_have_count(len(utxos))
    assert sorted(tab.ids(".utxos > li", "data-outpoint")) == \
        sorted(f"{u['txid']}:{u['vout']}" for u in utxos)
    history = api.get(f"/api/address/{addr}/txs")
    assert [t["txid"] for t in history] == [chain.pending, chain.payment]
    rows = page.locator("section:has(h2:text('History')) .tx-list > li")
    expect(rows).to_have_count(2)
    assert tab.ids("section:has(h2:text('History')) .tx-list > li", "data-txid") == \
        [chain.pending, chain.payment]
    tab.shows("net", signed_coins(-(4 * 10**8 + PENDING_FEE)), rows.nth(0))
    tab.shows("net", signed_coins(10 * 10**8), rows.nth(1))
    tab.screenshot("address")

    # The miner's address has a long history: 25 confirmed a page, older pages by last txid.
    addr = chain.miner_address
    page = tab.open(f"/address/{addr}")
    first = api.get(f"/api/address/{addr}/txs")
    history = "section:has(h2:text('History')) .tx-list > li"
    expect(page.locator(history)).to_have_count(len(first))
    assert tab.ids(history, "data-txid") == [t["txid"] for t in first]
    expect(page.locator(".utxos > li")).to_have_count(25)
    page.get_by_role("button", name="Show more").click()
    expect(page.locator(".utxos > li")).to_have_count(50)
    last = [t for t in first if t["status"]["confirmed"]][-1]["txid"]
    page.get_by_role("link", name="Older →").click()
    expect(page).to_have_url(f"{chain.base}/address/{addr}?after={last}")
    older = api.get(f"/api/address/{addr}/txs/chain/{last}")
    assert len(older) == 25
    expect(page.locator(history).first).to_have_attribute("data-txid", older[0]["txid"])
    assert tab.ids(history, "data-txid") == [t["txid"] for t in older]
    tab.screenshot("address-older")


def test_links_lead_from_home_to_a_block_to_a_transaction_to_an_address(tab, chain):
    page = tab.open("/")
    page.evaluate("window.stillTheSamePage = true")  # gone if a click reloaded the page
    height = chain.http.get(f"/api/block/{chain.big_block}")["height"]
    page.locator(f'table.blocks tr[data-hash="{chain.big_block}"] [data-field=height]').click()
    expect(page).to_have_url(f"{chain.base}/block/{chain.big_block}")
    expect(page.locator("h1")).to_have_text(f"Block {height}")

    txid = chain.http.get(f"/api/block/{chain.big_block}/txs")[1]["txid"]
    page.locator(f'.tx-list > li[data-txid="{txid}"] [data-field=txid]').click()
    expect(page).to_have_url(f"{chain.base}/tx/{txid}")
    tab.shows("txid", txid)

    address = chain.http.get(f"/api/tx/{txid}")["vout"][0]["scriptpubkey_address"]
    page.locator(".outputs > li").first.locator("[data-field=address]").click()
    expect(page).to_have_url(f"{chain.base}/address/{address}")
    tab.shows("address", address)
    assert page.evaluate("window.stillTheSamePage") is True

    page.go_back()  # history works like on any site
    expect(page).to_have_url(f"{chain.base}/tx/{txid}")
    tab.shows("txid", txid)
    page.locator('header a.brand').click()
    expect(page).to_have_url(f"{chain.base}/")
    assert page.evaluate("window.stillTheSamePage") is True


def test_search_box_finds_heights_hashes_txids_and_addresses(tab, chain):
    page = tab.open("/")
    box = page.get_by_role("searchbox", name="Search")
    big = chain.http.get(f"/api/block/{chain.big_block}")

    def search(text: str) -> None:
        box.fill(text)
        box.press("Enter")

    search(str(big["height"]))
    expect(page).to_have_url(f"{chain.base}/block/{chain.big_block}")
    search(big["previousblockhash"].upper())
    expect(page).to_have_url(f"{chain.base}/block/{big['previousblockhash']}")
    search(f"  {chain.payment} ")
    expect(page).to_have_url(f"{chain.base}/tx/{chain.payment}")
    search(chain.pending)
    expect(page).to_have_url(f"{chain.base}/tx/{chain.pending}")
    tab.shows("status", "unconfirmed (in the mempool)")
    search(chain.payee_address)
    expect(page).to_have_url(f"{chain.base}/address/{chain.payee_address}")
    tab.shows("address", chain.payee_address)

    message = page.locator("#message")
    for text, says in [("99999", "No block at height 99999."),
                       ("00" * 32, f"No block or transaction {'00' * 32}."),
                       ("not-an-address", "Not a height, block hash, txid or address"),
                       ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "Not a height")]:
        search(text)
        expect(message).to_contain_text(says)
        expect(page).to_have_url(f"{chain.base}/address/{chain.payee_address}")
    tab.screenshot("search-error")


def test_peers_are_listed_with_every_field_any_peer_has(tab, chain):
    # Until P2P lands the node has no peers, so the answer of /node/info is replaced here by
    # one in the shape a peer list may take: the page must show whatever fields it gets.
    info = chain.http.get("/node/info")
    info["peers"] = 2
    info["peer_list"] = [
        {"id": 1, "address": "127.0.0.1:18444", "inbound": False, "services": ["witness"]},
        {"id": 2, "address": "127.0.0.1:18555", "inbound": True, "version": 70016},
    ]
    tab.page.route("**/node/info", lambda route: route.fulfill(json=info))
    page = tab.open("/")
    table = page.locator("table.peers")
    expect(table.locator("th")).to_have_text(["id", "address", "inbound", "services", "version"])
    expect(table.locator("tbody tr").nth(0).locator("td")).to_have_text(
        ["1", "127.0.0.1:18444", "false", '["witness"]', ""])
    expect(table.locator("tbody tr").nth(1).locator("td")).to_have_text(
        ["2", "127.0.0.1:18555", "true", "", "70016"])
    tab.screenshot("home-peers")


def test_home_says_when_the_node_stops_answering_and_recovers(tab, chain):
    page = tab.open("/")
    tab.shows("tip-height", chain.http.text("/api/blocks/tip/height"))
    page.route("**/api/mempool", lambda route: route.abort())
    expect(tab.field("live")).to_contain_text("Node unreachable")
    page.unroute("**/api/mempool")
    expect(tab.field("live")).to_contain_text("Live: updated")


def test_a_full_mempool_histogram_is_merged_into_at_most_twelve_bars(tab):
    # A busy mempool has thousands of ~100 kvB buckets; the chart merges neighbours, keeping
    # the total size and labelling each bar with the lowest fee rate it holds.
    page = tab.open("/")
    histogram = [[1000 - i, 100_000 + i] for i in range(30)]
    bars = page.evaluate("""async (h) => {
        const { mergeBuckets } = await import('/explorer/chart.js');
        return [mergeBuckets(h), mergeBuckets(h.slice(0, 12))];
    }""", histogram)
    merged = [[histogram[i + 2][0], sum(v for _, v in histogram[i:i + 3])] for i in range(0, 30, 3)]
    assert bars == [merged, histogram[:12]]


@pytest.mark.parametrize("name", ["home", "block", "tx", "address"])
def test_pages_fit_a_phone_screen_without_sideways_scrolling(browser, chain, name):
    paths = {"home": "/", "block": f"/block/{chain.big_block}", "tx": f"/tx/{chain.payment}",
             "address": f"/address/{chain.payee_address}"}
    phone = Tab(browser, chain, PHONE)
    try:
        page = phone.open(paths[name])
        expect(page.locator("main h1")).to_be_visible()
        expect(page.locator("main .card").first).to_be_visible()
        expect(page.locator("main p.muted", has_text="Loading…")).to_have_count(0)
        expect(page.locator("main .fields").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} is {width} px wide"
        phone.screenshot(f"phone-{name}")
    finally:
        phone.close()


def test_home_follows_new_blocks_and_transactions_without_reloading(tab, chain):
    # Last in the module: it confirms the pending transaction the tests above look at.
    page = tab.open("/")
    height = int(chain.http.text("/api/blocks/tip/height"))
    tab.shows("tip-height", str(height))
    tab.shows("mempool-count", "1")
    page.evaluate("window.stillTheSamePage = true")

    new_tip = chain.generate(1)[0]
    tab.shows("tip-height", str(height + 1))
    tab.shows("tip-hash", new_tip)
    expect(page.locator("table.blocks tbody tr").first).to_have_attribute("data-hash", new_tip)
    tab.shows("mempool-count", "0")
    expect(tab.field("histogram-empty")).to_be_visible()

    txid = chain.send(chain.spend_coinbase(chain.next_coinbase_height, fee=2_500))
    tab.shows("mempool-count", "1")
    expect(page.locator("svg.histogram g.bar")).to_have_count(1)
    expect(page.locator(f'li[data-txid="{txid}"]')).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True
    tab.screenshot("home-live")
