"""The condition language of knowledge/patterns lives in the shared package (``zhenxi_knowledge.rules``), which
parses and checks every pattern at load; this module keeps nlp's import path."""
from zhenxi_knowledge.rules import BOOL_FUNCS, NAMES, NUM_FUNCS, Facts, Node, RuleError, parse  # noqa: F401
