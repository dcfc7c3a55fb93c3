"""Regression: events appended after a checkpoint of a size that is not a power of two left
`log --verify` naming stored Merkle nodes as altered (a node completed by a later leaf has an
in-order id inside the stored range, but is not stored yet)."""

from datetime import timedelta

from certgen.cli import main as certgen
from certgen.registry import Registry
from tests.conftest import NOW
from tests.registry_helpers import issue_one


def test_events_after_a_checkpoint_of_any_size_keep_the_log_intact(cli, settings):
    registry = Registry.open(settings.registry_url)
    numbers = [issue_one(registry, f"Peserta {i}", NOW - timedelta(days=1)).number for i in range(6)]
    assert cli(certgen, ["checkpoint"]).exit_code == 0  # 6 events in the stored tree
    for number in numbers[:3]:  # events 7, 8 complete subtrees whose in-order ids lie below 2 * (6 - 1)
        assert cli(certgen, ["suspend", number, "--reason", "check"]).exit_code == 0
        result = cli(certgen, ["log", "--verify"])
        assert result.exit_code == 0, result.output
    registry.close()
