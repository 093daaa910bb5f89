from support import create_function, invoke_json


def test_a_function_runs_and_keeps_its_globals_between_warm_invokes(lam, role):
    create_function(lam, "counter", "COUNT = 0\n\ndef handler(event, context):\n    global COUNT\n    COUNT += 1\n    return COUNT\n", role)
    assert invoke_json(lam, "counter")[1] == 1
    assert invoke_json(lam, "counter")[1] == 2
