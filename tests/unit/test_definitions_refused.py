"""Definitions that cannot mean anything are refused when they load, in one line that names
the key, never later in a report or on the next command."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadledger.projections.definitions import DefinitionsError, load

MODELS = "[attribution.models"
LONG = " + ".join(["leads"] * 100_000)
MANY_TERMS = "+".join(["1"] * 150)  # 299 characters, 449 syntax-tree nodes

REFUSED = [
    # attribution: conversions, windows
    ('[attribution]\nconversion = "signup"', "attribution.conversion", "conversion 'signup'"),
    ("[attribution]\nlookback_days = -5", "attribution.lookback_days", "greater than 0"),
    ("[attribution]\nlookback_days = 0", "attribution.lookback_days", "greater than 0"),
    ("[attribution]\nlookback_days = nan", "attribution.lookback_days", "finite number"),
    ("[attribution]\nlookback_days = 1e12", "attribution.lookback_days", "less than or equal"),
    ("[attribution]\nconversion_windows = { display = 0 }",
     "attribution.conversion_windows.display", "greater than 0"),
    ("[attribution]\nconversion_windows = { display = inf }",
     "attribution.conversion_windows.display", "finite number"),
    # attribution model parameters
    (f"{MODELS}.time_decay]\nhalf_life_days = 0", "'half_life_days'", "0 is not a number of days"),
    (f"{MODELS}.time_decay]\nhalf_life_days = -1", "'half_life_days'", "not a number of days"),
    (f"{MODELS}.time_decay]\nhalf_life_days = nan", "'half_life_days'", "not a finite number"),
    (f"{MODELS}.time_decay]\nhalf_life_days = 0.0001", "'time_decay'", "no weight to any touch"),
    (f"{MODELS}.position_based]\nfirst = inf", "'first'", "inf is not a finite number"),
    (f"{MODELS}.position_based]\nfirst = 0.7\nlast = 0.7", "'position_based'", "negative share"),
    (f"{MODELS}.w_shaped]\nmilestone_share = 0.4", "'w_shaped'", "negative share"),
    (f"{MODELS}.custom_position]\nweights = [1, nan]", "'weights'", "nan is not a finite number"),
    (f"{MODELS}.custom_position]\nweights = [1, -2]", "'weights'", "-2 is negative"),
    (f"{MODELS}.custom_channel]\ndefault = -inf", "'default'", "not a finite number"),
    (f"{MODELS}.markov]\norder = 0", "'order'", "0 is less than 1"),
    (f"{MODELS}.shapley]\nsamples = 0", "'samples'", "0 is less than 1"),
    # SLA limits
    ("[sla]\nmql_response_hours = 1e9", "sla.mql_response_hours", "less than or equal"),
    ("[sla]\nfirst_contact_hours = nan", "sla.first_contact_hours", "finite number"),
    ("[sla]\nsql_confirm_hours = inf", "sla.sql_confirm_hours", "finite number"),
    ("[sla]\nat_risk_share = nan", "sla.at_risk_share", "finite number"),
    # KPI constants and formulas
    ("[kpi.constants]\ngross_margin = nan", "kpi.constants.gross_margin", "finite number"),
    ("[kpi.constants]\nx = inf", "kpi.constants.x", "finite number"),
    ('[kpi.formulas]\nx = "leads > mqls"', "formula 'x'", "is a comparison"),
    ('[kpi.formulas]\nx = "leads ** won_value"', "formula 'x'", "exponent of ** must be a number"),
    ('[kpi.formulas]\nx = "leads ** 100"', "formula 'x'", "exponent of ** must be a number"),
    ('[kpi.formulas]\nx = "leads.exp()"', "formula 'x'", "calls a function or method"),
    ('[kpi.formulas]\nx = "leads.to_eng_string()"', "formula 'x'", "calls a function or method"),
    ('[kpi.formulas]\nx = "leads.real"', "formula 'x'", "reads an attribute"),
    ('[kpi.formulas]\nx = "leads and mqls"', "formula 'x'", "uses and/or"),
    ('[kpi.formulas]\nx = "not leads"', "formula 'x'", "operator formulas do not have"),
    ('[kpi.formulas]\nx = "leads % 7"', "formula 'x'", "operator formulas do not have"),
    ('[kpi.formulas]\nx = "leads if mqls else 1"', "formula 'x'", "is not arithmetic"),
    ('[kpi.formulas]\nx = "leads * 1e999"', "formula 'x'", "is not finite"),
    (f'[kpi.formulas]\nx = "{LONG}"', "formula 'x'", "at most 500 are allowed"),
    (f'[kpi.formulas]\nx = "{MANY_TERMS}"', "formula 'x'", "449 terms and operators; at most 200"),
    # structure
    ("a = " + "[" * 5000 + "]" * 5000, "not valid TOML", "nested too deeply"),
    ("a = " + "{b = " * 2000 + "1" + "}" * 2000, "not valid TOML", "nested too deeply"),
    (f"{MODELS}.last_non_direct]\ndirect = " + "[" * 300 + "]" * 300, "'direct'", "nested"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "key", "reason"), REFUSED)
def test_meaningless_definitions_are_refused_in_one_line_naming_the_key(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(DefinitionsError) as refused:
        load(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    assert key in message
    assert reason in message
    assert len(message) < 400


ACCEPTED = [
    ('[kpi.formulas]\nx = "(leads / visits) ** 0.5 + mqls ** -2"', "kpi"),
    ('[attribution.models.position_based]\nfirst = "0.5"\nlast = 0.5', "attribution"),
    ('[attribution.models.position_based]\nfirst = "1/3"\nlast = "1/3"', "attribution"),
    ('[attribution.models.time_decay]\nhalf_life_days = "14"', "attribution"),
    ("[attribution]\nlookback_days = 0.5\nconversion_windows = { display = 1 }", "attribution"),
]


@pytest.mark.parametrize(("text", "section"), ACCEPTED)
def test_meaningful_definitions_still_load(tmp_path: Path, text: str, section: str) -> None:
    path = tmp_path / "good.toml"
    path.write_text(text + "\n")
    assert getattr(load(path), section) != getattr(load(None), section)
