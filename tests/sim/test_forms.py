from __future__ import annotations

import pytest

from sim.forms import FormError, decode


def test_indexed_and_appended_arrays_become_lists_in_index_order() -> None:
    assert decode("p[1]=b&p[0]=a&q[]=x&q[]=y") == {"p": ["a", "b"], "q": ["x", "y"]}


def test_nested_hashes_and_arrays_of_hashes() -> None:
    decoded = decode(
        "relink_options[authorization]=fcauth_1&relink_options[account]=fca_1"
        "&a[b][0][c]=1&a[b][1][c]=2"
    )
    assert decoded == {
        "relink_options": {"authorization": "fcauth_1", "account": "fca_1"},
        "a": {"b": [{"c": "1"}, {"c": "2"}]},
    }


def test_blank_values_are_kept_as_empty_strings() -> None:
    assert decode("limits[accounts]=&x=1") == {"limits": {"accounts": ""}, "x": "1"}


@pytest.mark.parametrize("query", ["a[b=1", "a=1&a[b]=2"])
def test_malformed_keys_are_rejected(query: str) -> None:
    with pytest.raises(FormError):
        decode(query)


def test_event_ids_sort_in_creation_order() -> None:
    from sim.ids import sortable_id

    ids = [sortable_id("evt") for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
