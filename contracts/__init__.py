"""Contract definitions: the YAML file format, its validation and its versions."""

from contracts.loader import ContractFile, ContractVersion, load_contract_file, load_contract_text, version_as_of
from contracts.model import Contract, Metric
from contracts.problems import ContractFileError, Problem

__all__ = [
    "Contract",
    "ContractFile",
    "ContractFileError",
    "ContractVersion",
    "Metric",
    "Problem",
    "load_contract_file",
    "load_contract_text",
    "version_as_of",
]
