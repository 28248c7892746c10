"""Contracts as code: load them, validate against them, parse into generated models."""
from .loader import Contract, ContractError, contracts_dir, get, load_all, meta_for
from .models import model_for, parse, table
from .validate import (
    FileResult,
    Problem,
    Unreadable,
    UnknownContract,
    contract_for,
    iter_documents,
    problems,
    table_problems,
    validate_file,
)

__all__ = [
    "Contract", "ContractError", "FileResult", "Problem", "Unreadable", "UnknownContract",
    "contract_for", "contracts_dir", "get", "iter_documents", "load_all", "meta_for",
    "model_for", "parse", "problems", "table", "table_problems", "validate_file",
]
