"""The network description: topologies, network.toml, and the state file."""

from __future__ import annotations

import pytest

from node.p2p.connman import MAX_INBOUND
from regtest.spec import SpecError, from_flags, load_toml, topology_links
from regtest.state import NetState, NodeState, StateError

NAMES = ["a", "b", "c", "d"]


@pytest.mark.parametrize("topology, links", [
    ("line", [("b", "a"), ("c", "b"), ("d", "c")]),
    ("ring", [("b", "a"), ("c", "b"), ("d", "c"), ("d", "a")]),
    ("star", [("b", "a"), ("c", "a"), ("d", "a")]),
    ("full", [("b", "a"), ("c", "a"), ("c", "b"), ("d", "a"), ("d", "b"), ("d", "c")]),
])
def test_topologies_link_later_nodes_to_earlier_ones(topology, links):
    assert topology_links(NAMES, topology) == links


def test_a_ring_of_two_is_one_link_not_a_duplicate():
    assert topology_links(["a", "b"], "ring") == [("b", "a")]


def test_flags_make_named_nodes_and_the_first_k_mine():
    spec = from_flags(3, "line", 2, "regtest", interval=2)
    assert [(n.name, n.mine, n.interval) for n in spec.nodes] == [
        ("node0", True, 2), ("node1", True, 2), ("node2", False, 2)]


@pytest.mark.parametrize("nodes, miners, message", [
    (0, 0, "at least 1"), (3, 4, "between 0 and 3"), (3, -1, "between 0 and 3")])
def test_impossible_flags_are_refused(nodes, miners, message):
    with pytest.raises(SpecError, match=message):
        from_flags(nodes, "line", miners, "regtest")


# Once timed out waiting for links the hub's full inbound slots refused (a node takes at
# most MAX_INBOUND inbound peers, and each link is an inbound peer at its far end).
@pytest.mark.parametrize("nodes, topology, message", [
    (MAX_INBOUND + 2, "star", f"node node0 would need {MAX_INBOUND + 1} inbound links, "
                              f"more than the {MAX_INBOUND} inbound peers a node accepts$"),
    (MAX_INBOUND + 2, "full", f"node node0 would need {MAX_INBOUND + 1} inbound links, "
                              f"more than the {MAX_INBOUND} inbound peers a node accepts$"),
    (250, "full", f"node node0 would need 249 inbound links, more than the {MAX_INBOUND} "
                  r"inbound peers a node accepts \(and 123 other node\(s\) over it too\)$"),
])
def test_flags_refuse_a_topology_giving_a_node_more_inbound_peers_than_it_accepts(
        nodes, topology, message):
    with pytest.raises(SpecError, match=message):
        from_flags(nodes, topology, 1, "regtest")


@pytest.mark.parametrize("topology", ["star", "full"])
def test_flags_take_a_topology_with_a_node_at_the_inbound_limit(topology):
    spec = from_flags(MAX_INBOUND + 1, topology, 1, "regtest")
    assert sum(1 for _a, b in spec.links if b == "node0") == MAX_INBOUND


def _hub_and_spokes(spokes: int) -> str:
    return '[[node]]\nname = "hub"\n' + "".join(
        f'[[node]]\nname = "s{i}"\n' for i in range(spokes))


def test_network_toml_refuses_a_topology_giving_a_node_too_many_inbound_peers(tmp_path):
    path = tmp_path / "network.toml"
    path.write_text('topology = "star"\n' + _hub_and_spokes(MAX_INBOUND + 1))
    with pytest.raises(SpecError, match=f"node hub would need {MAX_INBOUND + 1} inbound links"):
        load_toml(path)


def test_network_toml_refuses_links_giving_a_node_too_many_inbound_peers(tmp_path):
    path = tmp_path / "network.toml"
    links = "".join(f'[[link]]\nfrom = "s{i}"\nto = "hub"\n' for i in range(MAX_INBOUND + 1))
    path.write_text(_hub_and_spokes(MAX_INBOUND + 1) + links)
    with pytest.raises(SpecError, match=f"node hub would need {MAX_INBOUND + 1} inbound links"):
        load_toml(path)
    # A link given twice is one connection: MAX_INBOUND distinct links fit.
    links = "".join(f'[[link]]\nfrom = "s{i % MAX_INBOUND}"\nto = "hub"\n'
                    for i in range(MAX_INBOUND + 1))
    path.write_text(_hub_and_spokes(MAX_INBOUND) + links)
    assert len(load_toml(path).links) == MAX_INBOUND + 1


def test_network_toml_declares_nodes_links_and_roles(tmp_path):
    path = tmp_path / "network.toml"
    path.write_text('network = "devnet"\n'
                    '[[node]]\nname = "alice"\nmine = true\n'
                    '[[node]]\nname = "bob"\n'
                    '[[node]]\nname = "carol"\ninterval = 2.5\n'
                    '[[link]]\nfrom = "bob"\nto = "alice"\n'
                    '[[link]]\nfrom = "carol"\nto = "bob"\n')
    spec = load_toml(path)
    assert spec.network == "devnet"
    assert [(n.name, n.mine) for n in spec.nodes] == [("alice", True), ("bob", False),
                                                       ("carol", False)]
    assert spec.node("carol").interval == 2.5
    assert spec.links == [("bob", "alice"), ("carol", "bob")]


def test_network_toml_may_name_a_topology_instead_of_links(tmp_path):
    path = tmp_path / "network.toml"
    path.write_text('topology = "star"\n[[node]]\nname = "hub"\n[[node]]\nname = "x"\n'
                    '[[node]]\nname = "y"\n')
    assert load_toml(path).links == [("x", "hub"), ("y", "hub")]


@pytest.mark.parametrize("text, message", [
    ('[[node]]\nname = "a"\ncolour = "red"\n', "unknown key 'colour'"),
    ('speed = 1\n[[node]]\nname = "a"\n', "unknown key 'speed'"),
    ('[[node]]\nname = "a"\n[[link]]\nfrom = "a"\nto = "zed"\n', "no node named 'zed'"),
    ('[[node]]\nname = "a"\n[[node]]\nname = "a"\n', "unique"),
    ('[[node]]\nname = "A B"\n', "bad node name"),
    ('[[node]]\nmine = true\n', "needs a name"),
    ('[[node]]\nname = "a"\nmine = "yes"\n', "true or false"),
    ('[[node]]\nname = "a"\ninterval = 86401\n', "interval must be from 0 to 86400"),
    ('[[node]]\nname = "a"\ninterval = -1\n', "interval must be from 0 to 86400"),
    ('network = "main"\n[[node]]\nname = "a"\n', "network must be one of"),
    ('', "at least one node"),
    ('[[node]\n', "network.toml"),
])
def test_bad_network_toml_says_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "network.toml"
    path.write_text(text)
    with pytest.raises(SpecError, match=message):
        load_toml(path)


def test_state_round_trips_and_finds_nodes_by_name_or_index(tmp_path):
    state = NetState(tmp_path, "regtest", [NodeState("node0", "127.0.0.2", 18444, 18443, True, 5),
                                           NodeState("node1", "127.0.0.3", 18444, 18443)],
                     [("node1", "node0")], [["node0"], ["node1"]])
    state.save()
    again = NetState.load(tmp_path)
    assert again == state
    assert again.node("1").name == "node1"
    assert again.node("node0").api_url == "http://127.0.0.2:18443/api"
    with pytest.raises(StateError, match="no node 'x'"):
        again.node("x")


def test_a_missing_or_damaged_state_file_names_the_way_out(tmp_path):
    with pytest.raises(StateError, match="regtest up"):
        NetState.load(tmp_path)
    (tmp_path / "network.json").write_text("{not json")
    with pytest.raises(StateError, match="down --wipe"):
        NetState.load(tmp_path)
