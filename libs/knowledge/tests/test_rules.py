import pytest

from zhenxi_knowledge.rules import DOSE_NAMES, Facts, RuleError, Variables, parse


def facts(**flags):
    values = flags.pop("values", {})
    return Facts(flags=flags, values=values, sex="female", age=50, medications=frozenset({"statin"}))


def test_boolean_functions_and_operators():
    expr = parse("low(HGB) and (low(MCV) or low(MCH))")
    assert expr.eval(facts(HGB="L", MCV="L"))
    assert expr.eval(facts(HGB="LL", MCH="L"))
    assert not expr.eval(facts(HGB="L", MCV="N"))
    assert parse("not high(GLU)").eval(facts(GLU="N"))
    assert parse('positive("U-PRO") and abnormal(WBC)').eval(facts(**{"U-PRO": "POS", "WBC": "ABN"}))


def test_missing_indicator_never_fires():
    assert not parse("low(HGB)").eval(facts())
    assert not parse("value(TG) >= 5.6").eval(facts())
    assert not parse("ratio(AST, ALT) > 2").eval(facts(values={"AST": 80}))


def test_values_ratios_names_and_medications():
    f = facts(values={"AST": 90.0, "ALT": 40.0, "LDL-C": 5.1, "Lp(a)": 400})
    assert parse("ratio(AST, ALT) >= 2").eval(f)
    assert parse('value("LDL-C") >= 4.9 and value("Lp(a)") > 300').eval(f)
    assert parse('sex == "female" and age >= 50').eval(f)
    assert parse("taking(statin)").eval(f) and not parse("taking(metformin)").eval(f)


def test_codes_and_medications_are_reported():
    expr = parse('high(GLU) and taking(metformin) or positive("U-KET")')
    assert expr.codes() == {"GLU", "U-KET"}
    assert expr.medications() == {"metformin"}


@pytest.mark.parametrize("bad", ["low(HGB", "low(HGB) and", "high(A, B)", "value(X) >", "foo(HGB)", "low(HGB) @"])
def test_bad_rules_raise(bad):
    with pytest.raises(RuleError):
        parse(bad)


def test_dose_language_has_its_own_names_and_no_functions():
    expr = parse("fraction < 0.5 and hours_until_next >= 2", names=DOSE_NAMES, functions=False)
    assert expr.eval(Variables({"fraction": 0.25, "hours_until_next": 6}))
    assert not expr.eval(Variables({"fraction": 0.25}))  # a missing number never satisfies a comparison
    assert parse("always", names=DOSE_NAMES, functions=False).eval(Variables({}))
    for bad in ("low(HGB)", "age > 3", "fraction <"):
        with pytest.raises(RuleError):
            parse(bad, names=DOSE_NAMES, functions=False)
