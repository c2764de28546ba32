"""Step templates shared by several families."""

from __future__ import annotations

from services.retrieval.corpus.sample.spec import Step

RESTART = Step(
    "restart_service",
    "Restart the service",
    "mitigate",
    "{restart_cmd}",
    "Restart the affected service to restore capacity once evidence has been captured.",
    "Service is back up, health checks pass and the metric drops below the alert threshold.",
    600,
    ("evidence captured (logs, heap or thread dumps)", "change announced in the incident channel"),
    "If the restart does not help, roll back the last deploy and escalate.",
    ("systemctl", "kubectl"),
)

K8S_ROLLBACK = Step(
    "rollback_deployment",
    "Roll back the deployment",
    "mitigate",
    "kubectl rollout undo deployment/{service} -n {namespace} && "
    "kubectl rollout status deployment/{service} -n {namespace} --timeout=5m",
    "Return to the previous ReplicaSet when the problem started with a deploy.",
    "Previous revision is running and all replicas are Ready.",
    600,
    ("kubectl access to the namespace", "confirmed the incident started after the latest rollout"),
    "kubectl rollout undo deployment/{service} -n {namespace} --to-revision=<bad-revision>",
    ("kubectl",),
)
