from __future__ import annotations

import pytest

from services.retrieval.errors import NotFoundError
from services.retrieval.procedures import find_procedure, normalise_step_name
from services.retrieval.schemas import ProcedureRequest
from tests.support.builders import corpus, runbook, step

STEPS = [
    step("check_heap", "Check Heap Usage", command="jcmd 1 GC.heap_info"),
    step("restart-service", "Restart the service"),
    step("verify_recovery", "Verify Recovery"),
]
CORPUS = corpus(runbook("Memory-Leak-001", steps=STEPS), runbook("other", steps=[step("check_heap", "Other heap")]))

LOOKUPS = [
    ("exact-id", "check_heap", "check_heap"),
    ("id-any-case", "CHECK_HEAP", "check_heap"),
    ("name", "Check Heap Usage", "check_heap"),
    ("name-lower", "check heap usage", "check_heap"),
    ("name-underscored", "check_heap_usage", "check_heap"),
    ("name-hyphenated", "Check-Heap-Usage", "check_heap"),
    ("name-extra-spaces", "  verify   recovery ", "verify_recovery"),
    ("id-normalised", "restart_service", "restart-service"),
    ("name-with-article", "restart the service", "restart-service"),
]


@pytest.mark.parametrize(("asked", "expected"), [c[1:] for c in LOOKUPS], ids=[c[0] for c in LOOKUPS])
def test_step_lookup(asked: str, expected: str) -> None:
    response = find_procedure(CORPUS, ProcedureRequest(runbook_id="Memory-Leak-001", step_name=asked))
    assert response.procedure.id == expected
    assert response.runbook_id == "Memory-Leak-001"


def test_exact_id_beats_another_steps_name() -> None:
    steps = [step("restart", "Rollback"), step("rollback", "Restart")]
    found = find_procedure(corpus(runbook("rb", steps=steps)), ProcedureRequest(runbook_id="rb", step_name="rollback"))
    assert found.procedure.id == "rollback"


@pytest.mark.parametrize("runbook_id", ["memory-leak-001", "MEMORY-LEAK-001", "Memory-Leak-001"])
def test_runbook_id_is_case_insensitive(runbook_id: str) -> None:
    response = find_procedure(CORPUS, ProcedureRequest(runbook_id=runbook_id, step_name="verify_recovery"))
    assert response.procedure.name == "Verify Recovery"


def test_related_steps_are_the_others_in_order() -> None:
    response = find_procedure(CORPUS, ProcedureRequest(runbook_id="memory-leak-001", step_name="Restart the service"))
    assert [s.id for s in response.related_steps] == ["check_heap", "verify_recovery"]
    assert response.procedure.command is None
    assert (
        find_procedure(CORPUS, ProcedureRequest(runbook_id="memory-leak-001", step_name="check_heap")).procedure
        == (STEPS[0])
    )


def test_unknown_runbook_says_where_ids_come_from() -> None:
    with pytest.raises(NotFoundError) as raised:
        find_procedure(CORPUS, ProcedureRequest(runbook_id="nope", step_name="check_heap"))
    assert str(raised.value) == "runbook 'nope' not found; search_runbooks returns valid ids"


def test_unknown_step_lists_the_available_steps() -> None:
    with pytest.raises(NotFoundError) as raised:
        find_procedure(CORPUS, ProcedureRequest(runbook_id="memory-leak-001", step_name="reboot"))
    assert str(raised.value) == (
        "step 'reboot' not found in runbook 'Memory-Leak-001'; available steps: check_heap, restart-service, "
        "verify_recovery"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Restart  Service", "restart_service"), ("restart-service", "restart_service"), ("_a__b-", "a_b")],
)
def test_normalise_step_name(name: str, expected: str) -> None:
    assert normalise_step_name(name) == expected
