"""Fault rules: the rule file format (`model`), and reading rule files (`loader`)."""

from __future__ import annotations

from ocpp_chaos.rules.loader import (
    Problem,
    RuleFileError,
    load_rule_file,
    load_rule_files,
    load_rule_text,
    rule_file_json_schema,
)
from ocpp_chaos.rules.model import FAULT_TYPES, Rule, RuleFile, parse_duration

__all__ = [
    "FAULT_TYPES",
    "Problem",
    "Rule",
    "RuleFile",
    "RuleFileError",
    "load_rule_file",
    "load_rule_files",
    "load_rule_text",
    "parse_duration",
    "rule_file_json_schema",
]
