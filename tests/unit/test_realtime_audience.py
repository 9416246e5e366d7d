"""The hub decides visibility once per audience: that is only sound if the key covers the rules."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from realtime.authz import Principal, audience_key, visible
from realtime.streams import CHANNELS

ids = st.sampled_from(["a", "b", None])
principals = st.builds(
    Principal,
    roles=st.frozensets(
        st.sampled_from(
            ["emergency_operator", "super_admin", "hospital_admin", "doctor", "patient"]
        )
    ),
    user_id=st.sampled_from(["u1", "u2", None]),
    hospital_id=ids,
    case_id=ids,
)
payloads = st.fixed_dictionaries(
    {},
    optional={
        "case_id": ids,
        "hospital_id": ids,
        "destination_hospital_id": ids,
        "region": st.sampled_from(["north", "south"]),
    },
)
filters = st.dictionaries(
    st.sampled_from(["hospital_id", "case_id", "region"]), st.sampled_from(["a", "b", "north"])
)


users = st.sampled_from(["u1", "u2", None])


@given(principals, users, filters, st.sampled_from(CHANNELS), payloads)
def test_equal_keys_see_the_same_events(principal, other_user, wanted, channel, payload) -> None:
    other = replace(principal, user_id=other_user)
    assert audience_key(principal, wanted) == audience_key(other, dict(reversed(wanted.items())))
    assert visible(principal, channel, wanted, payload) == visible(other, channel, wanted, payload)
