"""OpenRouter's per-endpoint data policy mapped to none | retains | trains | unknown (ops/endpoint_policy.py)."""

from __future__ import annotations

import pytest

from lmgate.ops.endpoint_policy import endpoint_policy, facts, model_policy, tightened


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ({"data_policy": {"training": True, "retainsPrompts": True, "canPublish": False}}, "trains"),
        ({"data_policy": {"training": True, "retainsPrompts": False}}, "trains"),  # training alone is enough
        ({"data_policy": {"training": False, "retainsPrompts": True, "retentionDays": 30}}, "retains"),
        ({"data_policy": {"training": False, "retainsPrompts": False}}, "none"),
        ({"data_policy": {"training": False, "retainsPrompts": False, "retentionDays": 0}}, "none"),
        ({"data_policy": {"training": False, "retentionDays": 7}}, "retains"),  # keeps them some days
        ({"data_policy": {"training": False}}, "unknown"),  # retention not said
        ({"data_policy": {"retainsPrompts": False}}, "unknown"),  # training not said
        ({"data_policy": {}}, "unknown"),
        ({"data_policy": None}, "unknown"),
        ({}, "unknown"),
        ({"data_policy": {"training": "no", "retainsPrompts": "no"}}, "unknown"),  # not booleans: not said
        # the snake_case spellings of OpenRouter's SDKs, and the fields at the endpoint's top level
        ({"dataPolicy": {"training": False, "retains_prompts": True, "prompt_retention_days": 30}}, "retains"),
        ({"training": False, "retains_prompts": False}, "none"),
    ],
)
def test_endpoint_policy(endpoint, expected):
    assert endpoint_policy(endpoint) == expected


def test_facts_are_read_as_said():
    f = facts({"data_policy": {"training": False, "retainsPrompts": True, "retentionDays": 30}})
    assert (f.training, f.retains_prompts, f.retention_days) == (False, True, 30.0)
    assert facts({"data_policy": {"retentionDays": True}}).retention_days is None  # a bool is not a number


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        ([], "unknown"),
        (["none"], "none"),
        (["none", "none"], "none"),
        (["none", "retains"], "retains"),
        (["retains", "unknown"], "unknown"),  # the unknown one may train
        (["none", "unknown", "trains"], "trains"),  # at least one trains: the model may be trained on
    ],
)
def test_a_model_is_its_least_private_endpoint(policies, expected):
    assert model_policy(policies) == expected


@pytest.mark.parametrize(
    ("configured", "found", "written"),
    [
        (None, "none", "none"),
        (None, "trains", "trains"),
        (None, "unknown", None),  # nothing to fill in
        ("none", "retains", "retains"),  # tightened
        ("retains", "trains", "trains"),
        ("trains", "none", None),  # never loosened
        ("retains", "retains", None),
        ("none", "unknown", None),
    ],
)
def test_the_catalog_only_fills_or_tightens(configured, found, written):
    assert tightened(configured, found) == written
